//! The one rendering layer of the CLI: tables for people, the API's JSON for scripts.
//!
//! Two table shapes share the table builder and `--output`: `/v1` answers are boxed tables
//! with chosen columns by JSON pointer ([`print_list`], [`print_object`]); localcloud's
//! `/cloud/v1` answers are plain, AWS-CLI-like tables whose columns are picked from the keys
//! of the items ([`cloud_table`]).

use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;

use linkplane_client::Reply;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// A table column: its header and a JSON pointer into each item (`/status`,
/// `/remoteExecution/enabled`).
pub type Column = (&'static str, &'static str);

/// Keys whose values are never printed in tables, whatever the server sends.
const SECRET_KEYS: &[&str] = &[
    "preSharedKey",
    "token",
    "tokenHash",
    "secret",
    "password",
    "privateKey",
];

/// The items of a list answer: a bare array, or `items` / `data` in an object.
pub fn items(body: &Value) -> Vec<Value> {
    match body {
        Value::Array(list) => list.clone(),
        Value::Object(map) => ["items", "data", "results"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_array))
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The cursor of the next page, if the answer says there is one.
pub fn next_cursor(body: &Value) -> Option<String> {
    ["nextCursor", "next_cursor", "cursor"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

/// A value as a table cell.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(list)) if list.is_empty() => "-".to_owned(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| cell(Some(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Object(map)) if map.contains_key("type") && map.contains_key("value") => {
            record_cell(map)
        }
        Some(other) => other.to_string(),
    }
}

/// A DNS record as `name TYPE value (ttl N)`.
fn record_cell(map: &serde_json::Map<String, Value>) -> String {
    let part = |k: &str| map.get(k).map(|v| cell(Some(v))).unwrap_or_default();
    let mut text = format!("{} {} {}", part("name"), part("type"), part("value"));
    if let Some(ttl) = map.get("ttl").filter(|v| !v.is_null()) {
        text.push_str(&format!(" (ttl {ttl})"));
    }
    text.trim().to_owned()
}

/// How a table is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// Boxed, wrapped to the terminal (`/v1`).
    Boxed,
    /// No borders, no wrapping (`/cloud/v1`).
    Plain,
}

/// The width tables are fitted to: the terminal's, else `$COLUMNS`, else 100 columns (a
/// table piped into a file or a CI log is still readable).
pub fn table_width() -> u16 {
    if let Some((w, _)) = terminal_size() {
        return w;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100)
}

fn terminal_size() -> Option<(u16, u16)> {
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let mut t = Table::new();
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.width().map(|w| (w, 0))
}

fn new_table<S: ToString>(style: Style, header: impl IntoIterator<Item = S>) -> Table {
    let mut table = Table::new();
    match style {
        Style::Boxed => {
            table.load_style(presets::UTF8_FULL_CONDENSED);
        }
        Style::Plain => {
            table.load_style(presets::NOTHING);
        }
    }
    // Long cells wrap so that no table is wider than the terminal (or 100 columns).
    table
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(table_width());
    table.set_header(header.into_iter().map(|h| h.to_string()));
    table
}

/// Fields printed under a detail table instead of in it: the customer's commands, one
/// numbered line each, whole (never wrapped inside a cell, so they can be copied).
fn is_instructions(key: &str) -> bool {
    key == "instructions" || key.ends_with("Instructions")
}

/// Instructions as numbered command lines. The API sends a list of commands, or
/// `{…, steps: [...]}` (peering: with the connection and the cluster's CIDR); steps may be
/// strings or `{description, command}`.
pub fn numbered_steps(value: &Value) -> Vec<String> {
    let steps = match value {
        Value::Object(o) => o.get("steps").and_then(Value::as_array),
        Value::Array(a) => Some(a),
        _ => None,
    };
    match steps {
        Some(steps) => steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let text = match step {
                    Value::String(s) => s.clone(),
                    Value::Object(o) => {
                        let part = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("");
                        match (part("description"), part("command")) {
                            ("", "") => step.to_string(),
                            (d, "") => d.to_owned(),
                            ("", c) => c.to_owned(),
                            (d, c) => format!("{d}\n     {c}"),
                        }
                    }
                    other => other.to_string(),
                };
                format!("{}. {text}", i + 1)
            })
            .collect(),
        None => match value {
            Value::Null => vec![],
            Value::String(s) if s.is_empty() => vec![],
            Value::String(s) => vec![format!("1. {s}")],
            other => vec![other.to_string()],
        },
    }
}

/// A table of `rows` with `columns`.
pub fn list_table(rows: &[Value], columns: &[Column]) -> String {
    let mut table = new_table(Style::Boxed, columns.iter().map(|(h, _)| *h));
    for row in rows {
        table.add_row(columns.iter().map(|(_, p)| cell(row.pointer(p))));
    }
    table.to_string()
}

/// A two-column FIELD / VALUE table of one object: `fields` first in that order, then every
/// other top-level field alphabetically, then the ETag (for `--if-match`) when known.
/// Secrets are masked.
pub fn detail_table(object: &Value, fields: &[Column], etag: Option<&str>) -> String {
    let mut table = new_table(Style::Boxed, ["FIELD", "VALUE"]);
    let mut shown: Vec<&str> = Vec::new();
    let mut below: Vec<(String, &Value)> = Vec::new();
    for (label, pointer) in fields {
        if let Some(v) = object.pointer(pointer) {
            // A nested field (`/remoteExecution/enabled`) stands for its parent object too.
            let top = pointer.trim_start_matches('/');
            let top = top.split('/').next().unwrap_or(top);
            shown.push(top);
            if is_instructions(top) {
                below.push(((*label).to_owned(), v));
            } else {
                table.add_row(vec![(*label).to_owned(), masked(pointer, v)]);
            }
        }
    }
    if let Some(map) = object.as_object() {
        for (key, value) in map {
            if shown.contains(&key.as_str()) {
                continue;
            }
            if is_instructions(key) {
                below.push((key.clone(), value));
            } else {
                table.add_row(vec![key.clone(), masked(key, value)]);
            }
        }
    }
    if let Some(etag) = etag {
        table.add_row(vec!["ETag".to_owned(), etag.to_owned()]);
    }
    let mut text = table.to_string();
    for (label, value) in below {
        let steps = numbered_steps(value);
        if steps.is_empty() {
            continue;
        }
        text.push_str(&format!("\n{label}:"));
        for step in steps {
            text.push_str(&format!("\n  {step}"));
        }
    }
    text
}

fn masked(key: &str, value: &Value) -> String {
    let key = key.rsplit('/').next().unwrap_or(key);
    if SECRET_KEYS.contains(&key) && !value.is_null() {
        "(hidden)".to_owned()
    } else {
        cell(Some(value))
    }
}

/// Prints a list answer.
pub fn print_list(output: Output, reply: &Reply, columns: &[Column], empty: &str) {
    match output {
        Output::Json => print_raw(reply),
        Output::Table => {
            let rows = items(&reply.body);
            if rows.is_empty() {
                eprintln!("{empty}");
            } else {
                println!("{}", list_table(&rows, columns));
            }
            if let Some(cursor) = next_cursor(&reply.body) {
                eprintln!("more results: repeat with --cursor {cursor}");
            }
        }
    }
}

/// Prints one object.
pub fn print_object(output: Output, reply: &Reply, fields: &[Column]) {
    match output {
        Output::Json => print_raw(reply),
        Output::Table => println!(
            "{}",
            detail_table(&reply.body, fields, reply.etag.as_deref())
        ),
    }
}

/// The API's JSON exactly as sent (nothing for an empty body).
pub fn print_raw(reply: &Reply) {
    let raw = reply.raw.trim_end();
    if !raw.is_empty() {
        println!("{raw}");
    }
}

/// A confirmation for a command without a body to show (delete, accept, …). In JSON mode
/// the server's body, if any, is printed instead.
pub fn print_done(output: Output, reply: &Reply, message: &str) {
    match output {
        Output::Json => print_raw(reply),
        Output::Table => eprintln!("{message}"),
    }
}

// ------------------------------------------------------------ localcloud answers

/// Columns shown for lists: the first entry whose key the items have wins (keys chosen so
/// that each picks out one resource kind).
const COLUMNS: &[(&str, &[&str])] = &[
    (
        "processId",
        &["processId", "pid", "running", "command", "logPath"],
    ),
    (
        "destinationCidrBlock",
        &["destinationCidrBlock", "targetId", "state"],
    ),
    (
        "vpcPeeringConnectionId",
        &[
            "vpcPeeringConnectionId",
            "requesterVpcInfo",
            "accepterVpcInfo",
            "status",
        ],
    ),
    (
        "privateIpAddress",
        &[
            "instanceId",
            "subnetId",
            "privateIpAddress",
            "publicIpAddress",
            "securityGroupIds",
            "name",
        ],
    ),
    (
        "availabilityZone",
        &[
            "subnetId",
            "vpcId",
            "cidrBlock",
            "availabilityZone",
            "gateway",
            "mapPublicIpOnLaunch",
        ],
    ),
    ("groupName", &["groupId", "groupName", "vpcId", "rules"]),
    (
        "internetGatewayId",
        &["internetGatewayId", "vpcId", "ownerId"],
    ),
    (
        "subnetId",
        &["natGatewayId", "vpcId", "subnetId", "publicIp", "state"],
    ),
    (
        "allocationId",
        &["allocationId", "publicIp", "natGatewayId"],
    ),
    (
        "dnsResolver",
        &["vpcId", "cidrBlock", "region", "ownerId", "name"],
    ),
];

/// A `/cloud/v1` value as a table cell (nested objects in AWS-CLI-like short forms).
fn compact_cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(compact_cell).collect::<Vec<_>>().join(","),
        Value::Object(o) if o.contains_key("code") => compact_cell(&o["code"]),
        Value::Object(o) if o.contains_key("vpcId") => {
            let dns = match o
                .get("peeringOptions")
                .and_then(|p| p.get("allowDnsResolutionFromRemoteVpc"))
            {
                Some(Value::Bool(true)) => " dns-resolution-from-remote-vpc",
                _ => "",
            };
            format!(
                "{} {} ({}){dns}",
                compact_cell(&o["vpcId"]),
                compact_cell(&o["cidrBlock"]),
                compact_cell(&o["ownerId"])
            )
        }
        Value::Object(o) if o.contains_key("ruleId") => rule_words(o),
        other => other.to_string(),
    }
}

/// A security-group rule (as `/cloud/v1` sends it) in AWS's words.
pub fn rule_text(rule: &Value) -> String {
    match rule.as_object() {
        Some(o) if o.contains_key("ruleId") => rule_words(o),
        _ => compact_cell(rule),
    }
}

/// A security-group rule in AWS's words: `ingress tcp 443 from 10.1.1.0/24 (sgr-…)`,
/// `egress all traffic to 0.0.0.0/0 (sgr-…)`.
fn rule_words(o: &serde_json::Map<String, Value>) -> String {
    let ingress = o["direction"].as_str() != Some("egress");
    let proto = o["ipProtocol"].as_str().unwrap_or("-1");
    let (from, to) = (
        o["fromPort"].as_i64().unwrap_or(-1),
        o["toPort"].as_i64().unwrap_or(-1),
    );
    let what = match proto {
        "-1" => "all traffic".to_owned(),
        p if from < 0 => format!("{p} all ports"),
        "icmp" => format!("icmp type {from}"),
        p if from == to => format!("{p} {from}"),
        p => format!("{p} {from}-{to}"),
    };
    let peer = if o["cidrIp"].is_null() {
        compact_cell(&o["sourceSecurityGroupId"])
    } else {
        compact_cell(&o["cidrIp"])
    };
    format!(
        "{} {what} {} {peer} ({})",
        if ingress { "ingress" } else { "egress" },
        if ingress { "from" } else { "to" },
        compact_cell(&o["ruleId"])
    )
}

/// Render a value as a table (lists) or key/value lines (one resource).
pub fn cloud_table(v: &Value) -> String {
    match v {
        Value::Array(items) if items.is_empty() => "(none)".into(),
        Value::Array(items) => {
            let first = items[0].as_object();
            let cols: Vec<&str> = COLUMNS
                .iter()
                .find(|(key, _)| first.is_some_and(|o| o.contains_key(*key)))
                .map(|(_, c)| c.to_vec())
                .unwrap_or_else(|| {
                    first
                        .map(|o| o.keys().map(String::as_str).collect())
                        .unwrap_or_default()
                });
            let mut t = new_table(Style::Plain, cols.iter());
            for item in items {
                t.add_row(cols.iter().map(|c| compact_cell(&item[*c])));
            }
            t.to_string()
        }
        // A rule (`sg allow`) in words, as `sg show` lists it.
        Value::Object(o) if o.contains_key("ruleId") && o.contains_key("direction") => {
            rule_words(o)
        }
        Value::Object(o) => {
            let width = o.keys().map(String::len).max().unwrap_or(0);
            o.iter()
                .map(|(k, v)| match v {
                    Value::Array(a) if a.iter().any(Value::is_object) => {
                        let rows: Vec<String> =
                            a.iter().map(|x| format!("  {}", compact_cell(x))).collect();
                        format!("{k}:\n{}", rows.join("\n"))
                    }
                    _ => format!("{k:width$}  {}", compact_cell(v)),
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        other => compact_cell(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn security_group_rules_read_as_aws_words() {
        let v = serde_json::json!({"groupId": "sg-1", "groupName": "g", "vpcId": "vpc-1", "rules": [
            {"ruleId": "sgr-1", "direction": "egress", "ipProtocol": "-1", "fromPort": -1, "toPort": -1, "cidrIp": "0.0.0.0/0"},
            {"ruleId": "sgr-2", "direction": "ingress", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIp": "10.1.1.0/24"},
            {"ruleId": "sgr-3", "direction": "ingress", "ipProtocol": "udp", "fromPort": 8000, "toPort": 8100, "cidrIp": null, "sourceSecurityGroupId": "sg-2"}
        ]});
        let t = cloud_table(&v);
        assert!(t.contains("egress all traffic to 0.0.0.0/0 (sgr-1)"), "{t}");
        assert!(
            t.contains("ingress tcp 443 from 10.1.1.0/24 (sgr-2)"),
            "{t}"
        );
        assert!(t.contains("ingress udp 8000-8100 from sg-2 (sgr-3)"), "{t}");
    }

    #[test]
    fn cloud_tables_render() {
        let v = json!([{"vpcId": "vpc-12345678", "cidrBlock": "10.0.0.0/16", "region": "us-east-1", "ownerId": "000000000001", "name": null}]);
        let t = cloud_table(&v);
        assert!(t.contains("vpc-12345678") && t.contains("cidrBlock"), "{t}");
        assert_eq!(cloud_table(&json!([])), "(none)");
    }

    #[test]
    fn list_answers_are_found_in_common_shapes() {
        assert_eq!(items(&json!([{"id": 1}])).len(), 1);
        assert_eq!(items(&json!({"items": [{"id": 1}, {"id": 2}]})).len(), 2);
        assert_eq!(items(&json!({"data": [{"id": 1}]})).len(), 1);
        assert!(items(&json!({"id": 1})).is_empty());
        assert_eq!(
            next_cursor(&json!({"items": [], "nextCursor": "abc"})).as_deref(),
            Some("abc")
        );
        assert_eq!(next_cursor(&json!({"items": [], "nextCursor": null})), None);
        assert_eq!(next_cursor(&json!({"items": [], "nextCursor": ""})), None);
    }

    #[test]
    fn cells_render_arrays_nulls_and_nested_values() {
        assert_eq!(cell(None), "-");
        assert_eq!(cell(Some(&json!(null))), "-");
        assert_eq!(
            cell(Some(&json!(["1.2.3.4", "5.6.7.8"]))),
            "1.2.3.4, 5.6.7.8"
        );
        assert_eq!(cell(Some(&json!(true))), "true");
        assert_eq!(cell(Some(&json!({"a": 1}))), r#"{"a":1}"#);
        assert_eq!(
            cell(Some(&json!([
                {"name": "db", "type": "A", "value": "10.1.4.20", "ttl": 60},
                {"name": "www", "type": "CNAME", "value": "db.internal"}
            ]))),
            "db A 10.1.4.20 (ttl 60), www CNAME db.internal"
        );
    }

    #[test]
    fn tables_pick_columns_by_pointer() {
        let rows = vec![json!({"id": "d1", "remoteExecution": {"enabled": true}})];
        let table = list_table(
            &rows,
            &[("ID", "/id"), ("REMOTE", "/remoteExecution/enabled")],
        );
        assert!(table.contains("d1") && table.contains("true") && table.contains("REMOTE"));
    }

    #[test]
    fn no_table_is_wider_than_the_width_and_instructions_are_numbered_lines_below() {
        // Not a terminal here: $COLUMNS, else 100.
        let width = table_width() as usize;
        let step = |s: &str| format!("linkplane cloud --as arn:aws:iam::111122223333:root {s}");
        let peering = json!({
            "id": "pcx1", "status": "PENDING_ACTIVATION",
            "statusReason": "waiting for account 111122223333, the owner of hosted zone hz-29e5f779, to authorize its association with the cluster's VPC vpc-2c81732c",
            "activationInstructions": {"clusterVpcCidr": "10.20.0.0/16", "peeringConnectionId": "pcx-510b7591",
                "steps": [step("peering accept pcx-510b7591"),
                          step("route add --vpc vpc-11d88b46 --destination 10.20.0.0/16 --target pcx-510b7591")]},
        });
        let text = detail_table(&peering, &[("id", "/id")], None);
        let (table, below) = text.split_once("\nactivationInstructions:").expect(&text);
        for line in table.lines() {
            assert!(
                line.chars().count() <= width,
                "{} > {width}: {line}",
                line.chars().count()
            );
        }
        assert!(!table.contains("steps"), "{text}");
        assert_eq!(
            below.lines().filter(|l| !l.is_empty()).collect::<Vec<_>>(),
            [
                format!("  1. {}", step("peering accept pcx-510b7591")),
                format!(
                    "  2. {}",
                    step(
                        "route add --vpc vpc-11d88b46 --destination 10.20.0.0/16 --target pcx-510b7591"
                    )
                ),
            ]
        );
        // A list of commands (DNS resolutions, TGW attachments) reads the same way.
        let dns = json!({"id": "dns1", "instructions": [step("zone authorize hz-1 --vpc vpc-2")]});
        let text = detail_table(&dns, &[], None);
        assert!(
            text.ends_with(&format!(
                "instructions:\n  1. {}",
                step("zone authorize hz-1 --vpc vpc-2")
            )),
            "{text}"
        );
        // None yet: nothing below.
        let text = detail_table(&json!({"id": "dns1", "instructions": []}), &[], None);
        assert!(!text.contains("instructions"), "{text}");
        // Lists wrap too.
        let rows = vec![json!({"id": "x", "reason": "word ".repeat(60)})];
        for line in list_table(&rows, &[("ID", "/id"), ("REASON", "/reason")]).lines() {
            assert!(line.chars().count() <= width, "{line}");
        }
    }

    #[test]
    fn a_nested_field_shown_hides_its_parent() {
        let obj =
            json!({"id": "d1", "remoteExecution": {"enabled": true, "allowedIpAddressRanges": []}});
        let text = detail_table(
            &obj,
            &[("remoteExecution.enabled", "/remoteExecution/enabled")],
            None,
        );
        assert!(text.contains("remoteExecution.enabled"), "{text}");
        assert!(
            !text.contains("{\"allowedIpAddressRanges\""),
            "shown twice: {text}"
        );
    }

    #[test]
    fn detail_tables_show_every_field_and_hide_secrets() {
        let obj = json!({"id": "v1", "name": "vpn", "preSharedKey": "s3cr3t.key", "zeta": 1});
        let table = detail_table(&obj, &[("NAME", "/name")], Some("\"g3\""));
        assert!(!table.contains("s3cr3t.key"), "{table}");
        assert!(table.contains("(hidden)"));
        assert!(table.contains("zeta") && table.contains("v1") && table.contains("NAME"));
        assert!(!table.contains("│ name"), "name shown twice: {table}");
        assert!(
            table.contains("ETag") && table.contains("\"g3\""),
            "{table}"
        );
    }
}

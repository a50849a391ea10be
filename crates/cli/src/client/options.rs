//! Options every client command accepts, and how they turn into a connected [`Ctx`].
//!
//! Precedence for the token: `--token` / `LINKPLANE_TOKEN`, then `--token-file` /
//! `LINKPLANE_TOKEN_FILE`, then `<data-dir>/admin.token` (written by `linkplane serve` on
//! first start). The organization: `--org` / `LINKPLANE_ORG`, then the only organization
//! visible to the token, then `<data-dir>/organization-id` if it is one of those visible.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::render::Output;
use linkplane_client::Client as Api;
use linkplane_model::{ResourceId, ResourceKind};

/// Connection and output options (accepted before or after the subcommand).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Connection and output")]
pub struct GlobalArgs {
    /// Base URL of the control plane, e.g. http://127.0.0.1:8080 or https://cp.example:8443.
    #[arg(
        long,
        env = "LINKPLANE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true,
        hide_short_help = true,
        value_name = "URL"
    )]
    pub url: String,

    /// API token sent as `Authorization: Bearer`. Prefer LINKPLANE_TOKEN or --token-file:
    /// command-line flags are visible to other users in `ps`.
    #[arg(
        long,
        env = "LINKPLANE_TOKEN",
        hide_env_values = true,
        global = true,
        hide_short_help = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// File holding the API token (first line). Used when no --token is given.
    #[arg(
        long,
        env = "LINKPLANE_TOKEN_FILE",
        global = true,
        hide_short_help = true,
        value_name = "PATH"
    )]
    pub token_file: Option<PathBuf>,

    /// Organization id. Default: the only organization the token can see, else the id in
    /// <data-dir>/organization-id.
    #[arg(
        long,
        env = "LINKPLANE_ORG",
        global = true,
        hide_short_help = true,
        value_name = "ORG_ID"
    )]
    pub org: Option<String>,

    /// Data directory of a local `linkplane serve`; its admin.token and organization-id are
    /// used when no token or organization is given.
    #[arg(
        long,
        env = "LINKPLANE_DATA_DIR",
        default_value = "./.linkplane",
        global = true,
        hide_short_help = true,
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,

    /// Output format: `table` for people, `json` for scripts (the API's JSON verbatim).
    #[arg(
        long,
        short = 'o',
        value_enum,
        env = "LINKPLANE_OUTPUT",
        default_value = "table",
        global = true
    )]
    pub output: Output,

    /// PEM file with the CA certificate(s) to trust for an https --url (for example the CA
    /// bundle `linkplane serve` created). Without it the system's roots are used.
    #[arg(
        long,
        env = "LINKPLANE_CA_FILE",
        global = true,
        hide_short_help = true,
        value_name = "PATH"
    )]
    pub ca_file: Option<PathBuf>,

    /// Seconds to wait for each HTTP request before giving up.
    #[arg(
        long,
        default_value_t = 30,
        global = true,
        hide_short_help = true,
        value_name = "SECONDS"
    )]
    pub request_timeout: u64,
}

/// Everything a command needs: the API connection, the output format, and where to find the
/// organization.
pub struct Ctx {
    pub api: Api,
    pub output: Output,
    org: Option<String>,
    data_dir: PathBuf,
}

impl Ctx {
    pub fn new(args: &GlobalArgs) -> anyhow::Result<Self> {
        let token = resolve_token(args)?;
        let ca = match &args.ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .with_context(|| format!("cannot read --ca-file {}", path.display()))?,
            ),
            None => None,
        };
        let mut builder = Api::builder(&args.url)
            .token_opt(token)
            .timeout(Duration::from_secs(args.request_timeout))
            .user_agent(concat!("linkplane-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca {
            builder = builder.ca_pem(pem);
        }
        let api = builder.build().map_err(super::hints::build_error)?;
        Ok(Self {
            api,
            output: args.output,
            org: args.org.clone().filter(|o| !o.trim().is_empty()),
            data_dir: args.data_dir.clone(),
        })
    }

    /// The organization to work in (see the module docs for the order of sources).
    pub async fn org(&self) -> anyhow::Result<String> {
        if let Some(org) = &self.org {
            return Ok(org.clone());
        }
        let reply = self.api.get(&["v1", "organizations"], &[]).await?;
        let ids: Vec<String> = crate::render::items(&reply.body)
            .iter()
            .filter_map(|o| o.get("id").and_then(|v| v.as_str()).map(str::to_owned))
            .collect();
        pick_org(&ids, read_org_file(&self.data_dir).as_deref())
    }

    /// `/v1/organizations/{org}/<rest…>` as path segments. A cluster or deployment given by
    /// name (`clusters/prod`) is replaced by its id.
    pub async fn org_path(&self, rest: &[&str]) -> anyhow::Result<Vec<String>> {
        let org = self.org().await?;
        let mut path = vec!["v1".to_owned(), "organizations".to_owned(), org];
        path.extend(rest.iter().map(|s| (*s).to_owned()));
        for i in 3..path.len().saturating_sub(1) {
            let kind = match path[i].as_str() {
                "clusters" if i == 3 => ResourceKind::Cluster,
                "deployments" if i == 3 => ResourceKind::Deployment,
                _ => continue,
            };
            if !is_id_of(&path[i + 1], kind) {
                let id = self.id_by_name(&path[..=i], &path[i + 1], kind).await?;
                path[i + 1] = id;
            }
        }
        Ok(path)
    }

    /// The id of the cluster or deployment `value` names (an id is returned as it is).
    pub async fn resolve(&self, value: &str, kind: ResourceKind) -> anyhow::Result<String> {
        if is_id_of(value, kind) {
            return Ok(value.to_owned());
        }
        let collection = match kind {
            ResourceKind::Deployment => "deployments",
            _ => "clusters",
        };
        let org = self.org().await?;
        let list = [
            "v1".to_owned(),
            "organizations".to_owned(),
            org,
            collection.to_owned(),
        ];
        self.id_by_name(&list, value, kind).await
    }

    /// Looks `name` up in the collection at `list` (every page).
    async fn id_by_name(
        &self,
        list: &[String],
        name: &str,
        kind: ResourceKind,
    ) -> anyhow::Result<String> {
        let segments: Vec<&str> = list.iter().map(String::as_str).collect();
        let collection = list.last().map(String::as_str).unwrap_or_default();
        let mut matches = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let mut query = vec![("limit", "100".to_owned())];
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let reply = self.api.get(&segments, &query).await?;
            for item in crate::render::items(&reply.body) {
                if item.get("name").and_then(|v| v.as_str()) == Some(name)
                    && let Some(id) = item.get("id").and_then(|v| v.as_str())
                {
                    matches.push(id.to_owned());
                }
            }
            cursor = crate::render::next_cursor(&reply.body);
            if cursor.is_none() {
                break;
            }
        }
        match matches.as_slice() {
            [one] => Ok(one.clone()),
            [] => bail!(
                "{name:?} is not a {what} id (those start with {prefix:?}) nor the name of one: \
                 `linkplane {cmd} list` shows the {collection} with their ids",
                what = kind.title(),
                prefix = kind.prefix(),
                cmd = if kind == ResourceKind::Deployment {
                    "deployment"
                } else {
                    "cluster"
                },
            ),
            many => bail!(
                "{} {collection} are named {name:?} ({}): pass the id of the one you mean",
                many.len(),
                many.join(", ")
            ),
        }
    }
}

/// Whether `value` is an id of `kind` (a name never is: ids are the kind's prefix and 16
/// base32 characters).
pub fn is_id_of(value: &str, kind: ResourceKind) -> bool {
    ResourceId::parse(value).is_ok_and(|id| id.kind() == Some(kind))
}

fn pick_org(visible: &[String], from_file: Option<&str>) -> anyhow::Result<String> {
    match visible {
        [] => bail!(
            "the token sees no organization; check --token / LINKPLANE_TOKEN or pass --org ORG_ID"
        ),
        [only] => Ok(only.clone()),
        many => {
            if let Some(id) = from_file
                && many.iter().any(|v| v == id)
            {
                return Ok(id.to_owned());
            }
            bail!(
                "the token sees {} organizations ({}); choose one with --org ORG_ID or LINKPLANE_ORG",
                many.len(),
                many.join(", ")
            )
        }
    }
}

fn read_org_file(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join("organization-id")).ok()?;
    let id = text.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

fn resolve_token(args: &GlobalArgs) -> anyhow::Result<Option<String>> {
    if let Some(token) = args.token.as_deref().map(str::trim)
        && !token.is_empty()
    {
        return Ok(Some(token.to_owned()));
    }
    if let Some(path) = &args.token_file {
        let token = read_token_file(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?;
        return Ok(Some(token));
    }
    let fallback = args.data_dir.join("admin.token");
    if fallback.exists() {
        let token = read_token_file(&fallback)
            .with_context(|| format!("cannot read the token file {}", fallback.display()))?;
        return Ok(Some(token));
    }
    Ok(None)
}

fn read_token_file(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        bail!("the file is empty; it should hold the token on its first line");
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_only_visible_organization_is_the_default() {
        assert_eq!(pick_org(&ids(&["o1"]), None).unwrap(), "o1");
        assert_eq!(pick_org(&ids(&["o1"]), Some("o2")).unwrap(), "o1");
    }

    #[test]
    fn several_organizations_need_the_file_or_a_flag() {
        assert_eq!(pick_org(&ids(&["o1", "o2"]), Some("o2")).unwrap(), "o2");
        let err = pick_org(&ids(&["o1", "o2"]), Some("o3")).unwrap_err();
        assert!(err.to_string().contains("--org"), "{err}");
        assert!(err.to_string().contains("o1, o2"), "{err}");
        assert!(pick_org(&ids(&["o1", "o2"]), None).is_err());
    }

    #[test]
    fn no_organization_is_an_error_naming_the_token() {
        let err = pick_org(&[], Some("o1")).unwrap_err();
        assert!(err.to_string().contains("LINKPLANE_TOKEN"), "{err}");
    }

    #[test]
    fn token_files_are_trimmed_and_empty_ones_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "  lp_secret \nsecond line\n").unwrap();
        assert_eq!(read_token_file(&path).unwrap(), "lp_secret");
        std::fs::write(&path, "\n").unwrap();
        assert!(read_token_file(&path).is_err());
        assert!(read_token_file(&dir.path().join("missing")).is_err());
    }
}

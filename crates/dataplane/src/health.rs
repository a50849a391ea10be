//! Health checks of a target set: TCP connect, or HTTP GET with a status matcher.
//!
//! State machine (per target, pure: [`next_state`]):
//!
//! ```text
//! initial   --healthy_threshold consecutive passes-->   healthy
//! initial   --unhealthy_threshold consecutive fails-->  unhealthy
//! healthy   --unhealthy_threshold consecutive fails-->  unhealthy
//! unhealthy --healthy_threshold consecutive passes-->   healthy
//! draining  (set by deregistration) is never changed by checks
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::forwarder::Connector;
use crate::targets::{TargetSet, TargetState};

/// A set of HTTP status codes such as `200,302` or `200-399` (AWS's matcher syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMatcher {
    ranges: Vec<(u16, u16)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid status matcher {input:?}: {reason} (expected codes 100-599 like \"200\", \"200,302\" or \"200-399\")"
)]
pub struct MatcherError {
    input: String,
    reason: String,
}

impl FromStr for StatusMatcher {
    type Err = MatcherError;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| MatcherError {
            input: input.to_string(),
            reason,
        };
        let code = |s: &str| -> Result<u16, MatcherError> {
            let c: u16 = s
                .trim()
                .parse()
                .map_err(|_| err(format!("{s:?} is not a number")))?;
            if (100..=599).contains(&c) {
                Ok(c)
            } else {
                Err(err(format!("{c} is outside 100-599")))
            }
        };
        let mut ranges = Vec::new();
        for part in input.split(',') {
            if part.trim().is_empty() {
                return Err(err("empty element".into()));
            }
            let r = match part.split_once('-') {
                Some((a, b)) => (code(a)?, code(b)?),
                None => {
                    let c = code(part)?;
                    (c, c)
                }
            };
            if r.0 > r.1 {
                return Err(err(format!("range {}-{} is reversed", r.0, r.1)));
            }
            ranges.push(r);
        }
        Ok(Self { ranges })
    }
}

impl StatusMatcher {
    pub fn matches(&self, status: u16) -> bool {
        self.ranges.iter().any(|&(a, b)| (a..=b).contains(&status))
    }
}

impl fmt::Display for StatusMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

/// What a check does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// Pass when a TCP connection to the target opens.
    Tcp,
    /// Pass when `GET path` answers with a status the matcher accepts.
    Http {
        path: String,
        matcher: StatusMatcher,
    },
}

/// Health check settings of a target group.
#[derive(Debug, Clone)]
pub struct HealthCheckConfig {
    pub kind: CheckKind,
    pub interval: Duration,
    /// A check that has not finished after this long fails.
    pub timeout: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// Check a different port than the traffic port (AWS `HealthCheckPort`).
    pub port: Option<u16>,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self {
            kind: CheckKind::Tcp,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            healthy_threshold: 3,
            unhealthy_threshold: 3,
            port: None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HealthConfigError {
    #[error("health check thresholds must be 1..=10, got healthy={0} unhealthy={1}")]
    Threshold(u32, u32),
    #[error(
        "health check interval must be at least 10 ms and timeout must be positive and below the interval"
    )]
    Timing,
    #[error("HTTP health check path must start with '/', got {0:?}")]
    Path(String),
}

impl HealthCheckConfig {
    pub fn validate(&self) -> Result<(), HealthConfigError> {
        let ok = |t: u32| (1..=10).contains(&t);
        if !ok(self.healthy_threshold) || !ok(self.unhealthy_threshold) {
            return Err(HealthConfigError::Threshold(
                self.healthy_threshold,
                self.unhealthy_threshold,
            ));
        }
        if self.interval < Duration::from_millis(10)
            || self.timeout.is_zero()
            || self.timeout > self.interval
        {
            return Err(HealthConfigError::Timing);
        }
        if let CheckKind::Http { path, .. } = &self.kind
            && (!path.starts_with('/') || path.contains(char::is_whitespace))
        {
            return Err(HealthConfigError::Path(path.clone()));
        }
        Ok(())
    }
}

/// Consecutive results of one target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streak {
    pub passes: u32,
    pub fails: u32,
}

/// The pure transition function of the health state machine.
pub fn next_state(
    state: TargetState,
    streak: Streak,
    passed: bool,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
) -> (TargetState, Streak) {
    let streak = if passed {
        Streak {
            passes: streak.passes.saturating_add(1),
            fails: 0,
        }
    } else {
        Streak {
            passes: 0,
            fails: streak.fails.saturating_add(1),
        }
    };
    let next = match state {
        TargetState::Draining => TargetState::Draining,
        s if passed && streak.passes >= healthy_threshold && s != TargetState::Healthy => {
            TargetState::Healthy
        }
        s if !passed && streak.fails >= unhealthy_threshold && s != TargetState::Unhealthy => {
            TargetState::Unhealthy
        }
        s => s,
    };
    (next, streak)
}

/// Runs one check against `addr`. `Ok(())` is a pass; the error says why it failed.
pub async fn check_once(
    connector: &dyn Connector,
    addr: SocketAddr,
    config: &HealthCheckConfig,
) -> Result<(), String> {
    let addr = SocketAddr::new(addr.ip(), config.port.unwrap_or(addr.port()));
    let work = async {
        let stream = connector
            .connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        match &config.kind {
            CheckKind::Tcp => Ok(()),
            CheckKind::Http { path, matcher } => {
                let status = http_status(stream, addr, path).await?;
                if matcher.matches(status) {
                    Ok(())
                } else {
                    Err(format!("GET {path} answered {status}, expected {matcher}"))
                }
            }
        }
    };
    match tokio::time::timeout(config.timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {:?}", config.timeout)),
    }
}

async fn http_status(
    stream: tokio::net::TcpStream,
    addr: SocketAddr,
    path: &str,
) -> Result<u16, String> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::USER_AGENT, "linkplane-health-check")
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("bad request for {path:?}: {e}"))?;
    let res = sender.send_request(req).await;
    conn.abort();
    let res = res.map_err(|e| format!("GET {path}: {e}"))?;
    Ok(res.status().as_u16())
}

/// Runs the health checks of a target set until stopped.
#[derive(Debug)]
pub struct HealthChecker {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl HealthChecker {
    /// Start checking every target of `targets` (including ones registered later) every
    /// `interval`. Checks run from wherever `connector` opens sockets (the load
    /// balancer's side).
    pub fn spawn(
        targets: TargetSet,
        connector: Arc<dyn Connector>,
        config: HealthCheckConfig,
    ) -> Result<Self, HealthConfigError> {
        config.validate()?;
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        let task = tokio::spawn(async move {
            tokio::select! {
                () = run(targets, connector, config) => {}
                () = c.cancelled() => {}
            }
        });
        Ok(Self { cancel, task })
    }

    /// Stop checking; target states keep their last value.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        let _ = (&mut self.task).await;
    }
}

impl Drop for HealthChecker {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn run(targets: TargetSet, connector: Arc<dyn Connector>, config: HealthCheckConfig) {
    let mut streaks: std::collections::HashMap<SocketAddr, Streak> = Default::default();
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let current = targets.targets();
        streaks.retain(|a, _| current.iter().any(|t| t.addr() == *a));
        let checks = current.iter().map(|t| {
            let connector = connector.clone();
            let config = &config;
            let addr = t.addr();
            async move { (addr, check_once(connector.as_ref(), addr, config).await) }
        });
        for (addr, result) in futures::future::join_all(checks).await {
            let Some(t) = targets.get(addr) else { continue };
            let streak = streaks.entry(addr).or_default();
            let before = t.state();
            let (after, s) = next_state(
                before,
                *streak,
                result.is_ok(),
                config.healthy_threshold,
                config.unhealthy_threshold,
            );
            *streak = s;
            if after != before {
                // Compare-and-set semantics: a concurrent deregistration wins.
                if t.state() == before {
                    t.set_state(after);
                    info!(target_addr = %addr, from = %before, to = %after, reason = ?result.err(), "target health changed");
                }
            } else if let Err(e) = result {
                debug!(target_addr = %addr, state = %after, error = %e, "health check failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetState::*;

    #[test]
    fn matcher_parses_lists_and_ranges() {
        let m: StatusMatcher = "200,302".parse().unwrap();
        assert!(m.matches(200) && m.matches(302));
        assert!(!m.matches(301) && !m.matches(404));
        let m: StatusMatcher = "200-399".parse().unwrap();
        assert!(m.matches(200) && m.matches(399) && m.matches(302));
        assert!(!m.matches(400) && !m.matches(199));
        assert_eq!(m.to_string(), "200-399");
        let m: StatusMatcher = " 200 , 300-302".parse().unwrap();
        assert_eq!(m.to_string(), "200,300-302");
    }

    #[test]
    fn matcher_refuses_bad_input() {
        for bad in [
            "", "abc", "200,", "99", "600", "399-200", "200-", "2OO", ",200",
        ] {
            let e = bad.parse::<StatusMatcher>();
            assert!(e.is_err(), "{bad:?} must be refused");
        }
        let msg = "600".parse::<StatusMatcher>().unwrap_err().to_string();
        assert!(msg.contains("outside 100-599"), "{msg}");
    }

    #[test]
    fn state_machine_follows_thresholds() {
        let (h, u) = (3, 2);
        let mut st = (Initial, Streak::default());
        st = next_state(st.0, st.1, true, h, u);
        st = next_state(st.0, st.1, true, h, u);
        assert_eq!(st.0, Initial, "two passes are not enough");
        st = next_state(st.0, st.1, true, h, u);
        assert_eq!(st.0, Healthy);
        st = next_state(st.0, st.1, false, h, u);
        assert_eq!(st.0, Healthy, "one failure is not enough");
        st = next_state(st.0, st.1, true, h, u);
        st = next_state(st.0, st.1, false, h, u);
        assert_eq!(st.0, Healthy, "a pass resets the failure streak");
        st = next_state(st.0, st.1, false, h, u);
        assert_eq!(st.0, Unhealthy);
        st = next_state(st.0, st.1, true, h, u);
        st = next_state(st.0, st.1, true, h, u);
        assert_eq!(st.0, Unhealthy);
        st = next_state(st.0, st.1, true, h, u);
        assert_eq!(st.0, Healthy);
        // initial goes unhealthy on failures too; draining never changes
        assert_eq!(
            next_state(
                Initial,
                Streak {
                    passes: 0,
                    fails: 1
                },
                false,
                h,
                u
            )
            .0,
            Unhealthy
        );
        assert_eq!(
            next_state(
                Draining,
                Streak {
                    passes: 9,
                    fails: 0
                },
                true,
                h,
                u
            )
            .0,
            Draining
        );
    }

    async fn http_server(status: u16, answer: bool) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            loop {
                let (mut c, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let n = c.read(&mut buf).await.unwrap_or(0);
                    assert!(buf[..n].starts_with(b"GET /healthz HTTP/1.1\r\n"));
                    if answer {
                        let r = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                        let _ = c.write_all(r.as_bytes()).await;
                    } else {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                });
            }
        });
        (addr, task)
    }

    fn http(matcher: &str) -> HealthCheckConfig {
        HealthCheckConfig {
            kind: CheckKind::Http {
                path: "/healthz".into(),
                matcher: matcher.parse().unwrap(),
            },
            interval: Duration::from_millis(500),
            timeout: Duration::from_millis(300),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn tcp_and_http_checks_pass_and_fail_for_the_right_reasons() {
        let c = crate::forwarder::LocalConnector::default();
        let tcp = HealthCheckConfig {
            interval: Duration::from_millis(500),
            timeout: Duration::from_millis(300),
            ..Default::default()
        };
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = l.local_addr().unwrap();
        assert_eq!(check_once(&c, open, &tcp).await, Ok(()));
        drop(l);
        let e = check_once(&c, open, &tcp).await.unwrap_err();
        assert!(e.contains("connect"), "{e}");

        let (ok, t1) = http_server(302, true).await;
        assert_eq!(check_once(&c, ok, &http("200,302")).await, Ok(()));
        let e = check_once(&c, ok, &http("200")).await.unwrap_err();
        assert!(e.contains("answered 302, expected 200"), "{e}");
        let (bad, t2) = http_server(503, true).await;
        assert!(check_once(&c, bad, &http("200-399")).await.is_err());
        let (mute, t3) = http_server(200, false).await;
        let e = check_once(&c, mute, &http("200")).await.unwrap_err();
        assert!(e.contains("no answer within"), "{e}");
        // The health port can differ from the traffic port.
        let mut other_port = http("200,302");
        other_port.port = Some(ok.port());
        assert_eq!(check_once(&c, open, &other_port).await, Ok(()));
        for t in [t1, t2, t3] {
            t.abort();
        }
    }

    #[test]
    fn config_is_validated() {
        let mut c = HealthCheckConfig::default();
        assert!(c.validate().is_ok());
        c.healthy_threshold = 0;
        assert!(matches!(
            c.validate(),
            Err(HealthConfigError::Threshold(0, 3))
        ));
        c.healthy_threshold = 2;
        c.timeout = Duration::from_secs(30);
        assert_eq!(c.validate(), Err(HealthConfigError::Timing));
        c.timeout = Duration::from_secs(1);
        c.kind = CheckKind::Http {
            path: "health".into(),
            matcher: "200".parse().unwrap(),
        };
        assert!(matches!(c.validate(), Err(HealthConfigError::Path(_))));
    }
}

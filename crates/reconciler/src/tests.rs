use super::*;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

#[derive(Clone)]
enum Outcome {
    Done,
    Requeue(Duration),
    Fail,
    Panic,
    Hold(Arc<Notify>),
    Sleep(Duration),
}

#[derive(Default)]
struct Recorder {
    listed: Mutex<Vec<u32>>,
    calls: Mutex<Vec<(u32, Instant)>>,
    in_flight: Mutex<HashSet<u32>>,
    overlap: AtomicBool,
    script: Mutex<HashMap<u32, VecDeque<Outcome>>>,
}

impl Recorder {
    fn with(keys: &[u32]) -> Arc<Self> {
        let r = Self::default();
        *r.listed.lock().unwrap() = keys.to_vec();
        Arc::new(r)
    }
    fn script(&self, key: u32, outcomes: &[Outcome]) {
        self.script
            .lock()
            .unwrap()
            .insert(key, outcomes.iter().cloned().collect());
    }
    fn calls_of(&self, key: u32) -> Vec<Instant> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, t)| *t)
            .collect()
    }
}

impl Reconcile for Recorder {
    type Key = u32;
    type Error = String;

    async fn list(&self) -> Result<Vec<u32>, String> {
        Ok(self.listed.lock().unwrap().clone())
    }

    async fn reconcile(&self, key: u32) -> Result<Action, String> {
        self.calls.lock().unwrap().push((key, Instant::now()));
        if !self.in_flight.lock().unwrap().insert(key) {
            self.overlap.store(true, Ordering::SeqCst);
        }
        let next = self
            .script
            .lock()
            .unwrap()
            .get_mut(&key)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Outcome::Done);
        let result = match next {
            Outcome::Done => Ok(Action::Done),
            Outcome::Requeue(d) => Ok(Action::RequeueAfter(d)),
            Outcome::Fail => Err(format!("key {key} failed")),
            Outcome::Panic => {
                self.in_flight.lock().unwrap().remove(&key);
                panic!("reconcile of {key} panicked on purpose")
            }
            Outcome::Hold(n) => {
                n.notified().await;
                Ok(Action::Done)
            }
            Outcome::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(Action::Done)
            }
        };
        self.in_flight.lock().unwrap().remove(&key);
        result
    }
}

fn config() -> Config {
    Config {
        concurrency: 4,
        resync: Duration::from_secs(3600),
        backoff_base: Duration::from_millis(200),
        backoff_max: Duration::from_secs(10),
    }
}

struct Running {
    handle: Handle<u32>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn start(r: &Arc<Recorder>, config: Config) -> Running {
    let (controller, handle) = Controller::new("test", Arc::clone(r), config);
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(controller.run(rx));
    Running { handle, stop, task }
}

async fn settle() {
    // With paused time, sleeping lets every ready task and due timer run.
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test(start_paused = true)]
async fn the_first_resync_reconciles_every_listed_key_once() {
    let r = Recorder::with(&[1, 2, 3]);
    let _c = start(&r, config());
    settle().await;
    for k in [1, 2, 3] {
        assert_eq!(r.calls_of(k).len(), 1, "key {k}");
    }
}

#[tokio::test(start_paused = true)]
async fn triggers_during_a_run_collapse_into_exactly_one_more_run() {
    let r = Recorder::with(&[7]);
    let gate = Arc::new(Notify::new());
    r.script(7, &[Outcome::Hold(gate.clone()), Outcome::Done]);
    let c = start(&r, config());
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(r.calls_of(7).len(), 1);
    for _ in 0..10 {
        c.handle.enqueue(7);
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        r.calls_of(7).len(),
        1,
        "no second run while the first holds"
    );
    gate.notify_one();
    settle().await;
    assert_eq!(r.calls_of(7).len(), 2);
    assert!(!r.overlap.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn one_key_never_runs_twice_at_once_even_under_a_storm_of_triggers() {
    let keys: Vec<u32> = (0..5).collect();
    let r = Recorder::with(&keys);
    for k in &keys {
        r.script(*k, &vec![Outcome::Sleep(Duration::from_millis(3)); 50]);
    }
    let c = start(&r, config());
    for i in 0..500u32 {
        c.handle.enqueue(i % 5);
        if i % 7 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    settle().await;
    assert!(!r.overlap.load(Ordering::SeqCst), "a key ran concurrently");
    let total: usize = keys.iter().map(|k| r.calls_of(*k).len()).sum();
    assert!(
        total < 500,
        "triggers must be deduplicated, got {total} runs"
    );
    assert!(total >= 5);
}

#[tokio::test(start_paused = true)]
async fn errors_back_off_exponentially_then_succeed() {
    let r = Recorder::with(&[1]);
    r.script(
        1,
        &[Outcome::Fail, Outcome::Fail, Outcome::Fail, Outcome::Done],
    );
    let _c = start(&r, config());
    settle().await;
    let calls = r.calls_of(1);
    assert_eq!(calls.len(), 4, "three failures then a success, and no more");
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    // base 200 ms with jitter in [0.5, 1]: [100, 200], [200, 400], [400, 800] ms.
    assert!(gaps[0] >= Duration::from_millis(100) && gaps[0] <= Duration::from_millis(200));
    assert!(gaps[2] >= Duration::from_millis(400) && gaps[2] <= Duration::from_millis(800));
    assert!(gaps[2] > gaps[0]);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_reconcile_is_retried_and_the_controller_survives() {
    let r = Recorder::with(&[1, 2]);
    r.script(1, &[Outcome::Panic, Outcome::Done]);
    let c = start(&r, config());
    settle().await;
    assert_eq!(r.calls_of(1).len(), 2);
    assert_eq!(r.calls_of(2).len(), 1);
    c.handle.enqueue(2);
    settle().await;
    assert_eq!(r.calls_of(2).len(), 2, "controller still serves triggers");
}

#[tokio::test(start_paused = true)]
async fn requeue_after_is_honoured_and_a_trigger_overrides_it() {
    let r = Recorder::with(&[1]);
    r.script(
        1,
        &[
            Outcome::Requeue(Duration::from_secs(5)),
            Outcome::Requeue(Duration::from_secs(300)),
            Outcome::Done,
        ],
    );
    let c = start(&r, config());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let calls = r.calls_of(1);
    assert_eq!(calls.len(), 2);
    assert!(calls[1] - calls[0] >= Duration::from_secs(5));
    // The second asked for 300 s; a trigger now runs it at once.
    c.handle.enqueue(1);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(r.calls_of(1).len(), 3);
    // ...and the cancelled 300 s timer does not fire a fourth run.
    tokio::time::sleep(Duration::from_secs(400)).await;
    assert_eq!(r.calls_of(1).len(), 3);
}

#[tokio::test(start_paused = true)]
async fn resync_reconciles_again_without_any_trigger() {
    let r = Recorder::with(&[1]);
    let mut cfg = config();
    cfg.resync = Duration::from_secs(30);
    let _c = start(&r, cfg);
    tokio::time::sleep(Duration::from_secs(95)).await;
    assert_eq!(r.calls_of(1).len(), 4, "at 0, 30, 60 and 90 s");
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_the_controller() {
    let r = Recorder::with(&[1]);
    let c = start(&r, config());
    settle().await;
    c.stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), c.task)
        .await
        .expect("controller stops")
        .unwrap();
}

/// Keeps the waker each pass finds, and feeds keys from a channel as its trigger source.
#[derive(Default)]
struct Watching {
    runs: Mutex<Vec<u32>>,
    wakers: Mutex<Vec<Option<Waker>>>,
    feed: Mutex<Option<mpsc::UnboundedReceiver<u32>>>,
}

impl Reconcile for Watching {
    type Key = u32;
    type Error = String;

    async fn list(&self) -> Result<Vec<u32>, String> {
        Ok(vec![1])
    }

    async fn reconcile(&self, key: u32) -> Result<Action, String> {
        self.runs.lock().unwrap().push(key);
        // Also from a nested future on the same task, as a provider call would.
        let w = async { Waker::current() }.await;
        self.wakers.lock().unwrap().push(w);
        Ok(Action::Done)
    }

    fn triggers(self: Arc<Self>, handle: Handle<u32>) -> impl Future<Output = ()> + Send {
        let feed = self.feed.lock().unwrap().take();
        async move {
            let Some(mut feed) = feed else { return };
            while let Some(k) = feed.recv().await {
                handle.enqueue(k);
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_waker_taken_inside_a_reconcile_reconciles_its_key_again() {
    assert!(Waker::current().is_none(), "no waker outside a reconcile");
    let r = Arc::new(Watching::default());
    let (controller, _handle) = Controller::new("watch", Arc::clone(&r), config());
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(controller.run(rx));
    settle().await;
    assert_eq!(*r.runs.lock().unwrap(), [1]);
    let w = r.wakers.lock().unwrap()[0]
        .clone()
        .expect("a waker inside the reconcile");
    assert_eq!(w.id(), "watch/1");
    w.wake();
    settle().await;
    assert_eq!(*r.runs.lock().unwrap(), [1, 1], "a wake: one more run");
    assert_eq!(
        r.wakers.lock().unwrap()[1].as_ref().map(Waker::id),
        Some("watch/1")
    );
    stop.send(true).unwrap();
    task.await.unwrap();
    // The controller is gone: waking does nothing (and does not panic).
    w.wake();
}

#[tokio::test(start_paused = true)]
async fn trigger_sources_run_with_the_controller_and_stop_with_it() {
    let r = Arc::new(Watching::default());
    let (feed, rx_feed) = mpsc::unbounded_channel();
    *r.feed.lock().unwrap() = Some(rx_feed);
    let (controller, _handle) = Controller::new("watch", Arc::clone(&r), config());
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(controller.run(rx));
    settle().await;
    feed.send(5).unwrap();
    feed.send(6).unwrap();
    settle().await;
    assert_eq!(*r.runs.lock().unwrap(), [1, 5, 6]);
    stop.send(true).unwrap();
    task.await.unwrap();
    settle().await;
    assert!(
        feed.send(7).is_err(),
        "the trigger source was stopped with the controller"
    );
}

mod reasons {
    //! Every pass runs in a `reconcile` span that says why it ran.
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::sync::watch;
    use tracing::Subscriber;
    use tracing::span::{Attributes, Id};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

    use crate::{Action, Config, Controller, Reconcile, Waker};

    /// Records the `reason` field of every `reconcile` span.
    #[derive(Clone, Default)]
    struct Reasons(Arc<Mutex<Vec<String>>>);

    struct Field<'a>(&'a mut Option<String>);

    impl tracing::field::Visit for Field<'_> {
        fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
            if f.name() == "reason" {
                *self.0 = Some(v.to_owned());
            }
        }
        fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
    }

    impl<S: Subscriber> Layer<S> for Reasons {
        fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
            if attrs.metadata().name() == "reconcile" {
                let mut reason = None;
                attrs.record(&mut Field(&mut reason));
                if let Some(r) = reason {
                    self.0.lock().unwrap().push(r);
                }
            }
        }
    }

    /// Fails its first pass, asks for one requeue, then wakes itself once through its Waker.
    struct Script {
        passes: Mutex<u32>,
    }

    impl Reconcile for Script {
        type Key = u32;
        type Error = String;

        async fn list(&self) -> Result<Vec<u32>, String> {
            Ok(vec![])
        }

        async fn reconcile(&self, _key: u32) -> Result<Action, String> {
            let n = {
                let mut p = self.passes.lock().unwrap();
                *p += 1;
                *p
            };
            match n {
                1 => Err("first pass fails".into()),
                2 => Ok(Action::RequeueAfter(Duration::from_millis(5))),
                3 => {
                    let w = Waker::current().unwrap();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        w.wake();
                    });
                    Ok(Action::Done)
                }
                _ => Ok(Action::Done),
            }
        }
    }

    #[tokio::test]
    async fn each_pass_says_why_it_ran() {
        let reasons = Reasons::default();
        let subscriber = tracing_subscriber::registry().with(reasons.clone());
        let _guard = tracing::subscriber::set_default(subscriber);
        let (controller, handle) = Controller::new(
            "script",
            Arc::new(Script {
                passes: Mutex::new(0),
            }),
            Config {
                resync: Duration::from_secs(3600),
                backoff_base: Duration::from_millis(5),
                backoff_max: Duration::from_millis(10),
                ..Config::default()
            },
        );
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(controller.run(rx));
        handle.enqueue(1);
        let start = std::time::Instant::now();
        while reasons.0.lock().unwrap().len() < 4 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{:?}",
                reasons.0.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = stop.send(true);
        let _ = task.await;
        let got = reasons.0.lock().unwrap().clone();
        // The first tick of the resync interval lists nothing; the spans are the key's.
        assert_eq!(
            got[..4],
            ["write", "retry", "requeue", "provider watch"],
            "{got:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn passes_are_counted_by_controller_reason_and_outcome_and_the_queue_is_a_gauge() {
    let r = Recorder::with(&[1, 2, 3]);
    r.script(1, &[Outcome::Fail, Outcome::Done]);
    r.script(2, &[Outcome::Panic, Outcome::Done]);
    r.script(3, &[Outcome::Requeue(Duration::from_secs(3600))]);
    let (controller, _handle) = Controller::new("metrics-run", Arc::clone(&r), config());
    let (_stop, rx) = watch::channel(false);
    let _task = tokio::spawn(controller.run(rx));
    settle().await;
    let text = metrics::tests::scrape();
    let has = |line: &str| assert!(text.contains(line), "missing {line} in\n{text}");
    has(
        r#"linkplane_reconcile_passes_total{controller="metrics-run",reason="resync",outcome="error"} 1"#,
    );
    has(
        r#"linkplane_reconcile_passes_total{controller="metrics-run",reason="resync",outcome="panic"} 1"#,
    );
    has(
        r#"linkplane_reconcile_passes_total{controller="metrics-run",reason="resync",outcome="requeue"} 1"#,
    );
    has(
        r#"linkplane_reconcile_passes_total{controller="metrics-run",reason="retry",outcome="done"} 2"#,
    );
    has(r#"linkplane_reconcile_errors_total{controller="metrics-run",reason="resync"} 2"#);
    has(
        r#"linkplane_reconcile_duration_seconds_count{controller="metrics-run",reason="resync"} 3"#,
    );
    // Key 3 waits on its hour-long requeue; nothing is queued or running.
    has(r#"linkplane_reconcile_scheduled{controller="metrics-run"} 1"#);
    has(r#"linkplane_reconcile_queue_depth{controller="metrics-run"} 0"#);
    has(r#"linkplane_reconcile_in_flight{controller="metrics-run"} 0"#);
}

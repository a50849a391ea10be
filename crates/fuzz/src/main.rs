//! `linkplane-fuzz <target|all> [seconds] [seed]`: run fuzz targets (see the crate docs).

use std::time::Duration;

use anyhow::{Context, bail};
use linkplane_fuzz::{TARGETS, run};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("all");
    let seconds: u64 = match args.get(1) {
        Some(s) => s.parse().context("seconds")?,
        None => 60,
    };
    let seed: u64 = match args.get(2) {
        Some(s) => s.parse().context("seed")?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos() as u64,
    };
    let mut crashed = false;
    let mut ran = 0;
    for t in TARGETS.iter().filter(|t| which == "all" || t.name == which) {
        ran += 1;
        let dir = linkplane_fuzz::targets::corpus_dir(t.name);
        let artifacts = dir
            .parent()
            .context("corpus dir")?
            .parent()
            .context("crate dir")?
            .join("artifacts")
            .join(t.name);
        let f = t.run;
        let r = run(
            t.name,
            &dir,
            &artifacts,
            t.dict,
            Duration::from_secs(seconds),
            seed,
            &f,
        );
        println!(
            "fuzz {}: {} executions in {seconds} s (seed {seed}), corpus {}, crashes {}",
            r.target,
            r.executions,
            r.corpus,
            r.crashes.len()
        );
        for c in &r.crashes {
            println!("  crash input: {}", c.display());
        }
        crashed |= !r.crashes.is_empty();
    }
    if ran == 0 {
        bail!(
            "no target {which}; targets: {}",
            TARGETS
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if crashed {
        bail!("crashes found");
    }
    Ok(())
}

//! The mutation loop.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub target: &'static str,
    pub corpus: usize,
    pub executions: u64,
    /// Inputs that panicked (written under `artifacts/<target>/`).
    pub crashes: Vec<PathBuf>,
}

/// xorshift64*: fast, seedable, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, 0x20, 0x0d, 0x0a, b'"', b'\\', b'/', b'.', b':', b'-', b'0', b'9',
    b'{', b'}', b'[', b']', 0xc0, 0xe0, 0xf0,
];

/// One mutation of `input` (drawn from the corpus), in place.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>], dict: &[&[u8]]) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next_u64() as u8;
            }
            3 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next_u64() as u8);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                input.drain(i..i + n);
            }
            5 if len > 0 => {
                // Duplicate a range.
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(32));
                let chunk: Vec<u8> = input[i..i + n].to_vec();
                let at = rng.below(input.len() + 1);
                input.splice(at..at, chunk);
            }
            6 if !corpus.is_empty() => {
                // Splice in a range of another corpus entry.
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let i = rng.below(other.len());
                    let n = 1 + rng.below((other.len() - i).min(64));
                    let at = rng.below(input.len() + 1);
                    input.splice(at..at, other[i..i + n].iter().copied());
                }
            }
            7 if !dict.is_empty() => {
                let tok = dict[rng.below(dict.len())];
                let at = rng.below(input.len() + 1);
                input.splice(at..at, tok.iter().copied());
            }
            8 if len > 1 => {
                // Truncate.
                input.truncate(rng.below(len));
            }
            _ => input.push(rng.next_u64() as u8),
        }
    }
    input.truncate(64 * 1024);
}

/// Read every file of `dir` (sorted, for reproducibility).
pub fn load_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// Run `one` over the corpus, then over mutations of it for `time`.
pub fn run(
    target: &'static str,
    corpus_dir: &Path,
    artifacts: &Path,
    dict: &[&[u8]],
    time: Duration,
    seed: u64,
    one: &(dyn Fn(&[u8]) + std::panic::RefUnwindSafe),
) -> Report {
    let corpus = load_corpus(corpus_dir);
    let mut report = Report {
        target,
        corpus: corpus.len(),
        executions: 0,
        crashes: Vec::new(),
    };
    let try_one = |input: &[u8], report: &mut Report| {
        report.executions += 1;
        if catch_unwind(AssertUnwindSafe(|| one(input))).is_err() {
            let _ = std::fs::create_dir_all(artifacts);
            let path = artifacts.join(format!("crash-{}-{}", report.executions, input.len()));
            let _ = std::fs::write(&path, input);
            report.crashes.push(path);
        }
    };
    for input in &corpus {
        try_one(input, &mut report);
    }
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let mut buf = Vec::new();
    while start.elapsed() < time && report.crashes.len() < 10 {
        for _ in 0..256 {
            buf.clear();
            if corpus.is_empty() {
                buf.extend((0..rng.below(64)).map(|_| rng.next_u64() as u8));
            } else {
                buf.extend_from_slice(&corpus[rng.below(corpus.len())]);
            }
            mutate(&mut rng, &mut buf, &corpus, dict);
            try_one(&buf, &mut report);
        }
    }
    report
}

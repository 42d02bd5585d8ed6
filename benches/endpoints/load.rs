//! Load generation: closed-loop (a fixed number of connections, each sending its next request
//! when the last one is answered) and open-loop (requests sent at a fixed rate whatever the
//! answers, latency counted from when each was due, so a stalled server is not hidden).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Latencies of the successful requests of one phase, the failures, and how long it ran.
#[derive(Debug, Default)]
pub struct Sample {
    latencies: Vec<Duration>,
    pub failures: usize,
    pub elapsed: Duration,
}

impl Sample {
    pub fn new(mut latencies: Vec<Duration>, failures: usize, elapsed: Duration) -> Sample {
        latencies.sort_unstable();
        Sample {
            latencies,
            failures,
            elapsed,
        }
    }

    /// The samples of several runs as one.
    pub fn merge(samples: Vec<Sample>) -> Sample {
        let mut latencies = Vec::new();
        let (mut failures, mut elapsed) = (0, Duration::ZERO);
        for mut sample in samples {
            latencies.append(&mut sample.latencies);
            failures += sample.failures;
            elapsed += sample.elapsed;
        }
        Sample::new(latencies, failures, elapsed)
    }

    pub fn count(&self) -> usize {
        self.latencies.len()
    }

    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0.5, 0.99) in milliseconds; 0 without any success.
    pub fn ms(&self, q: f64) -> f64 {
        let Some(last) = self.latencies.len().checked_sub(1) else {
            return 0.0;
        };
        let index = ((self.latencies.len() as f64 * q) as usize).min(last);
        self.latencies[index].as_secs_f64() * 1000.0
    }

    /// One line for the progress log.
    pub fn line(&self, name: &str) -> String {
        format!(
            "{name:<46} {:>8.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   n {:>7}   failed {}",
            self.rate(),
            self.ms(0.50),
            self.ms(0.99),
            self.count(),
            self.failures,
        )
    }
}

/// Builds one request on a worker's client.
pub type Request = Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>;

/// A client for one load connection: its own pool, so `CONNECTIONS` workers keep that many
/// connections; no proxy (a loopback figure through a proxy would measure the proxy), no
/// redirects (the authorization response is the code).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// Sends `request` from `connections` workers for `duration`; a success is a 2xx status.
pub async fn closed_loop(connections: usize, duration: Duration, request: Request) -> Sample {
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = JoinSet::new();
    for _ in 0..connections {
        let request = Arc::clone(&request);
        workers.spawn(async move {
            let client = client();
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            while Instant::now() < deadline {
                let sent = Instant::now();
                match request(&client).send().await {
                    Ok(response) if response.status().is_success() => {
                        match response.bytes().await {
                            Ok(_) => latencies.push(sent.elapsed()),
                            Err(_) => failures += 1,
                        }
                    }
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        });
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for (mut worker, failed) in workers.join_all().await {
        latencies.append(&mut worker);
        failures += failed;
    }
    Sample::new(latencies, failures, started.elapsed())
}

/// One request of an open-loop mix: resolves to whether it succeeded.
pub type Job = Pin<Box<dyn Future<Output = bool> + Send>>;

/// Starts `next(i)` every `1/rate` seconds for `duration`, never waiting for answers (up to
/// `max_in_flight`; a request that would exceed it counts as failed). Each latency runs from
/// the moment the request was due, so time spent queued behind a slow server counts.
pub async fn open_loop(
    rate: f64,
    duration: Duration,
    max_in_flight: usize,
    next: impl Fn(u64) -> Job,
) -> Sample {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let mut latencies = Vec::with_capacity(total as usize);
    let mut failures = 0usize;
    let mut collect = |done: Option<Result<(bool, Duration), tokio::task::JoinError>>| match done {
        Some(Ok((true, latency))) => latencies.push(latency),
        Some(_) => failures += 1,
        None => {}
    };
    for i in 0..total {
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        while let Some(done) = tasks.try_join_next() {
            collect(Some(done));
        }
        if tasks.len() >= max_in_flight {
            collect(Some(Ok((false, Duration::ZERO))));
            continue;
        }
        let job = next(i);
        tasks.spawn(async move {
            let ok = job.await;
            (ok, due.elapsed())
        });
    }
    let sent = started.elapsed();
    while let Some(done) = tasks.join_next().await {
        collect(Some(done));
    }
    Sample::new(latencies, failures, sent)
}

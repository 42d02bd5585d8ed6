//! Every performance figure of issue 18 in one run, against the release `tollgate serve` in
//! its own process, with the load generated here over loopback HTTP:
//!
//! ```text
//! cargo bench --bench endpoints                      # SQLite; 3 to 5 minutes
//! cargo bench --bench endpoints -- --quick           # 1 s per phase: a check in about a minute
//! TOLLGATE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench --bench endpoints                  # and PostgreSQL beside SQLite
//! cargo bench --bench endpoints -- --state 1000000   # and the large-state phase
//! ```
//!
//! Flags (after `--`):
//! - `--quick`: 1 s per load phase, 1 s mixed-load steps, fewer round trips and starts.
//! - `--seconds N`: each closed-loop load phase (default 5).
//! - `--trips N`: sequential code-flow round trips per figure (default 200; quick 50).
//! - `--starts N`: starts per configuration for the start-up figure (default 10; quick 3).
//! - `--mix-seconds N`: the confirming run of the mixed load at the rate found (default 60).
//! - `--step-seconds N`: each step of the mixed load's rate search (default 10).
//! - `--state N`: seed N clients and N grants, 10 N expired access tokens, 10 N expired
//!   refresh tokens and 10 N events, and rerun the token and code-flow figures (off unless
//!   given; the issue's figure is N = 1000000, whose seeding took 15 minutes on SQLite).
//! - `--postgres URL`: as `TOLLGATE_BENCH_POSTGRES_URL`: a database the bench may connect to;
//!   it creates (and drops first) its own databases `tollgate_bench_*` beside it.
//! - `TOLLGATE_BENCH_BINARY=PATH` (environment): measure that `tollgate` binary instead of the
//!   one built with the bench, such as an older commit's, for before-and-after figures.
//! - `--only LIST`: only these phases, comma-separated: `startup`, `token`, `code`,
//!   `consent`, `metadata`, `events`, `mix`, `state` (`state` also needs `--state`).
//!
//! The phases, each on a server started on its own empty database:
//! - start-up: process start to the first `200` on the metadata document (polled every
//!   millisecond over a raw socket), with no configuration file and with
//!   `tollgate.example.toml`: the first start on an empty database (schema, RSA key), then the
//!   median of `--starts` starts on the existing one; `VmRSS` when ready and once idle (polled
//!   until it stays within 1 % for a second, at most 10 s).
//! - token: `client_credentials` (client_secret_basic, RS256) from 8 connections; the server's
//!   CPU time (utime + stime from `/proc/<pid>/stat`) over the phase divided by the requests.
//! - code: authorize with consent mode `auto` plus the token request, one sequential client.
//! - consent: the same through the consent page (consent mode `prompt`): GET /authorize, POST
//!   the form (its CSRF token and cookie) approving as `dev`, then the token request; and again
//!   as a declared user with a password, whose argon2 check is part of the round trip.
//! - metadata: metadata and JWKS from 8 connections, beside a bare axum server serving the
//!   same bytes (this binary again, `--serve-bare`, same runtime flavour), two alternating
//!   rounds of half the phase each; after it, the token server's idle RSS after all that load.
//! - events: the token load on a server with the event log off and one with it on, both
//!   started empty, in five rounds of one run each, the order swapped every round; the
//!   change is the median of the rounds' changes, beside the servers' CPU per request
//!   (issue 12: at most 5 %).
//! - mix: an open-loop mix of `client_credentials`, authorization (auto consent), code
//!   redemption and registration, in equal parts, at a fixed rate; latency counts from when a
//!   request was due. Rates step up (250, 500, 1000, 1500, 2000, 3000, ...) on a fresh server
//!   each until p99 reaches 50 ms or more than 0.1 % fail, then the gap to the last passing
//!   rate is halved twice; the highest passing rate is then run for `--mix-seconds` (the next
//!   lower passing ones in turn while that fails), with the database and WAL sizes at its end.
//! - state: the token and code-flow figures on an empty database, then again after seeding
//!   (`state.rs`), with the database and WAL sizes.
//!
//! Budgets in the table are issue 18's. Nothing is asserted: no figure fails the run. The
//! load generator shares the machine with the server, so the figures are a floor.

mod bare;
mod flows;
mod load;
mod server;
mod state;

use load::Sample;
use server::{Backend, Settings, Tollgate};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 8;
const MIX_P99_MS: f64 = 50.0;
/// The password of the declared user the consent form is also approved as.
const BENCH_PASSWORD: &str = "correct-horse-battery";
const MIX_RATES: [f64; 11] = [
    250.0, 500.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 6000.0, 8000.0, 12000.0, 16000.0,
];

#[derive(Debug, Clone)]
struct Options {
    quick: bool,
    seconds: Duration,
    trips: usize,
    starts: usize,
    mix_seconds: Duration,
    step_seconds: Duration,
    state: Option<u64>,
    postgres: Option<url::Url>,
    only: Option<Vec<String>>,
}

impl Options {
    fn parse() -> Options {
        let mut args = std::env::args().skip(1);
        let mut quick = false;
        let (mut seconds, mut trips, mut starts, mut mix, mut step) =
            (None, None, None, None, None);
        let mut state = None;
        let mut postgres = std::env::var("TOLLGATE_BENCH_POSTGRES_URL").ok();
        let mut only = None;
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .unwrap_or_else(|| usage(&format!("{name} needs a value")))
            };
            let number = |name: &str, text: String| -> u64 {
                text.replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("{name}: not a number: {text}")))
            };
            match arg.as_str() {
                // cargo bench passes --bench to every bench target.
                "--bench" => {}
                "--quick" => quick = true,
                "--seconds" => seconds = Some(number("--seconds", value("--seconds"))),
                "--trips" => trips = Some(number("--trips", value("--trips"))),
                "--starts" => starts = Some(number("--starts", value("--starts"))),
                "--mix-seconds" => mix = Some(number("--mix-seconds", value("--mix-seconds"))),
                "--step-seconds" => step = Some(number("--step-seconds", value("--step-seconds"))),
                "--state" => state = Some(number("--state", value("--state"))),
                "--postgres" => postgres = Some(value("--postgres")),
                "--only" => {
                    only = Some(value("--only").split(',').map(str::to_owned).collect());
                }
                other => usage(&format!("unknown argument {other}")),
            }
        }
        let pick = |given: Option<u64>, normal: u64, fast: u64| {
            given.unwrap_or(if quick { fast } else { normal })
        };
        Options {
            quick,
            seconds: Duration::from_secs(pick(seconds, 5, 1)),
            trips: pick(trips, 200, 50) as usize,
            starts: pick(starts, 10, 3) as usize,
            mix_seconds: Duration::from_secs(pick(mix, 60, 1)),
            step_seconds: Duration::from_secs(pick(step, 10, 1)),
            state,
            postgres: postgres.filter(|url| !url.is_empty()).map(|url| {
                url::Url::parse(&url).unwrap_or_else(|e| usage(&format!("PostgreSQL URL: {e}")))
            }),
            only,
        }
    }

    fn runs(&self, phase: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|p| p == phase))
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "endpoints bench: {problem}\nusage: cargo bench --bench endpoints -- [--quick] \
         [--seconds N] [--trips N] [--starts N] [--mix-seconds N] [--step-seconds N] \
         [--state N] [--postgres URL] [--only startup,token,code,consent,metadata,events,mix,state]"
    );
    std::process::exit(2)
}

/// The table printed at the end: a row per figure, a column per backend.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
}

struct Row {
    figure: String,
    /// The value on each backend that has one.
    values: Vec<(&'static str, String)>,
    budget: &'static str,
}

impl Row {
    fn cell(&self, backend: &str) -> &str {
        self.values
            .iter()
            .find(|(b, _)| *b == backend)
            .map_or("-", |(_, v)| v.as_str())
    }
}

impl Report {
    fn put(&mut self, figure: &str, backend: &'static str, value: String, budget: &'static str) {
        match self.rows.iter_mut().find(|row| row.figure == figure) {
            Some(row) => row.values.push((backend, value)),
            None => self.rows.push(Row {
                figure: figure.to_owned(),
                values: vec![(backend, value)],
                budget,
            }),
        }
    }

    fn print(&self, backends: &[&'static str]) {
        let width = |cell: &dyn Fn(&Row) -> &str, title: &str| {
            self.rows
                .iter()
                .map(|row| cell(row).len())
                .chain([title.len()])
                .max()
                .unwrap_or_default()
        };
        let first = width(&|row| row.figure.as_str(), "figure");
        let widths: Vec<usize> = backends
            .iter()
            .map(|backend| width(&|row| row.cell(backend), backend))
            .collect();
        let mut line = format!("{:<first$}", "figure");
        for (backend, width) in backends.iter().zip(&widths) {
            line += &format!(" | {backend:<width$}");
        }
        println!("{line} | budget (issue 18)");
        println!("{}", "-".repeat(line.len() + 20));
        for row in &self.rows {
            let mut line = format!("{:<first$}", row.figure);
            for (backend, width) in backends.iter().zip(&widths) {
                line += &format!(" | {:<width$}", row.cell(backend));
            }
            println!("{line} | {}", row.budget);
        }
    }
}

/// Progress, as the run goes (the table comes at the end).
macro_rules! note {
    ($($arg:tt)*) => { eprintln!("  {}", format!($($arg)*)) };
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(bare::FLAG) {
        bare::serve(Path::new(&args[2]), Path::new(&args[3])).await;
        return;
    }
    let options = Options::parse();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut backends = vec![Backend::Sqlite(dir.path().to_owned())];
    if let Some(url) = &options.postgres {
        backends.push(Backend::Postgres(url.clone()));
    }
    let names: Vec<&'static str> = backends.iter().map(Backend::name).collect();
    let header = header(&options, &names);
    eprintln!("{header}");
    let mut report = Report::default();
    let bench = Bench {
        options: options.clone(),
        dir: dir.path().to_owned(),
    };

    if options.runs("startup") {
        bench.startup(&mut report).await;
    }
    for backend in &backends {
        eprintln!("[{}]", backend.name());
        if ["token", "code", "metadata"]
            .iter()
            .any(|p| options.runs(p))
        {
            bench.core(backend, &mut report).await;
        }
        if options.runs("consent") {
            bench.consent(backend, &mut report).await;
        }
        if options.runs("events") && matches!(backend, Backend::Sqlite(_)) {
            bench.events(backend, &mut report).await;
        }
        if options.runs("mix") {
            bench.mix(backend, &mut report).await;
        }
        if let (Some(n), true) = (options.state, options.runs("state")) {
            bench.state(backend, n, &mut report).await;
        }
    }
    println!("\n{header}\n");
    report.print(&names);
    println!(
        "\nPeer comparison (oidc-provider): not part of this command; issue 18's table has \
         figures measured beside oidc-provider 9.13 with wrk."
    );
}

fn header(options: &Options, backends: &[&str]) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(String::new, |kib| {
            format!(", {:.1} GiB", kib as f64 / 1048576.0)
        });
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    let dirty = if git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        ""
    } else {
        " (with uncommitted changes)"
    };
    format!(
        "Tollgate benchmark, {}\nmachine: {cores} cores, {model}{memory}\ncommit: {commit}{dirty}\n\
         mode: {}; {CONNECTIONS} connections, {} s per load phase, {} round trips; backends: {}",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        if options.quick { "quick" } else { "full" },
        options.seconds.as_secs(),
        options.trips,
        backends.join(", "),
    )
}

struct Bench {
    options: Options,
    dir: PathBuf,
}

impl Bench {
    async fn start(&self, database: server::Database, settings: &Settings, name: &str) -> Tollgate {
        Tollgate::start(database, settings, &self.dir.join(format!("{name}.log"))).await
    }

    async fn startup(&self, report: &mut Report) {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("tollgate.example.toml");
        let configurations = [
            ("no config", None),
            ("tollgate.example.toml", Some(example)),
        ];
        let sqlite = Backend::Sqlite(self.dir.clone());
        for (index, (label, config)) in configurations.into_iter().enumerate() {
            let settings = Settings {
                config,
                plain: true,
                ..Settings::default()
            };
            let database = sqlite.fresh(&format!("startup-{index}")).await;
            let first = self.start(database.clone(), &settings, "startup").await;
            let first_ms = ms(first.ready_after);
            first.stop().await;
            let mut times = Vec::new();
            let mut ready_rss = Vec::new();
            let mut idle = 0;
            for run in 0..self.options.starts {
                let server = self.start(database.clone(), &settings, "startup").await;
                times.push(ms(server.ready_after));
                ready_rss.push(server.rss_kib());
                if run + 1 == self.options.starts {
                    idle = server.idle_rss_kib(Duration::from_secs(10)).await;
                }
                server.stop().await;
            }
            let (median, min, max) = spread(&mut times);
            ready_rss.sort_unstable();
            note!(
                "start-up, {label}: first (empty database) {first_ms:.1} ms; then median {median:.1} ms \
                 ({min:.1} to {max:.1}); RSS when ready {} MiB, idle {} MiB",
                mib(ready_rss[ready_rss.len() / 2]),
                mib(idle),
            );
            report.put(
                &format!("start to first metadata 200, {label}"),
                "SQLite",
                format!("{median:.1} ms ({min:.1}-{max:.1}; first {first_ms:.0})"),
                "<= 20 ms",
            );
            report.put(
                &format!("RSS idle, {label}"),
                "SQLite",
                format!(
                    "{} MiB (ready {})",
                    mib(idle),
                    mib(ready_rss[ready_rss.len() / 2])
                ),
                "<= 15 MB",
            );
        }
    }

    /// Token load with CPU per request, the auto-consent code flow, metadata and JWKS beside
    /// bare axum, and the idle RSS after all of it.
    async fn core(&self, backend: &Backend, report: &mut Report) {
        let name = backend.name();
        let database = backend.fresh("core").await;
        let server = self
            .start(database, &Settings::default(), &format!("core-{name}"))
            .await;
        if self.options.runs("token") {
            let (sample, cpu) = self.token_load(&server).await;
            note!("{}", sample.line("POST token (client_credentials)"));
            report.put(
                "client_credentials tokens/s, 8 connections",
                name,
                format!(
                    "{:.0} (p50 {:.2}, p99 {:.2} ms)",
                    sample.rate(),
                    sample.ms(0.5),
                    sample.ms(0.99)
                ),
                ">= 4,000, p99 < 5 ms",
            );
            report.put(
                "server CPU per token request",
                name,
                format!("{cpu:.0} us"),
                "(RSA-2048 signing ~360 us)",
            );
        }
        if self.options.runs("code") {
            let client_id = flows::public_client(&server.issuer).await;
            let http = load::client();
            let trips = self
                .trips(|| flows::auto_round_trip(&http, &server.issuer, &client_id))
                .await;
            note!("{}", trips.line("code flow, auto consent (sequential)"));
            report.put(
                "code flow round trip, auto consent",
                name,
                format!("p50 {:.2}, p99 {:.2} ms", trips.ms(0.5), trips.ms(0.99)),
                "p50 <= 2 ms",
            );
        }
        if self.options.runs("metadata") && matches!(backend, Backend::Sqlite(_)) {
            self.metadata(&server, report).await;
            let idle = server.idle_rss_kib(Duration::from_secs(10)).await;
            note!("RSS idle after the load: {} MiB", mib(idle));
            report.put(
                "RSS idle after load",
                name,
                format!("{} MiB", mib(idle)),
                "<= 40 MB (15 MB goal)",
            );
        }
        server.stop().await;
    }

    /// `client_credentials` from 8 connections; the sample and the server's CPU time per
    /// request in microseconds.
    async fn token_load(&self, server: &Tollgate) -> (Sample, f64) {
        let request = flows::client_credentials(&server.issuer).await;
        let before = server.cpu_time();
        let sample = load::closed_loop(CONNECTIONS, self.options.seconds, request).await;
        let cpu = server.cpu_time().saturating_sub(before);
        let requests = (sample.count() + sample.failures).max(1);
        (sample, cpu.as_secs_f64() * 1e6 / requests as f64)
    }

    async fn trips<F, Fut>(&self, trip: F) -> Sample
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Option<Duration>>,
    {
        let started = Instant::now();
        let mut latencies = Vec::new();
        let mut failures = 0;
        for _ in 0..self.options.trips {
            match trip().await {
                Some(latency) => latencies.push(latency),
                None => failures += 1,
            }
        }
        Sample::new(latencies, failures, started.elapsed())
    }

    async fn consent(&self, backend: &Backend, report: &mut Report) {
        let name = backend.name();
        let file = self.dir.join("consent.toml");
        let user = format!("[[users]]\nsubject = \"bench\"\npassword = \"{BENCH_PASSWORD}\"\n");
        std::fs::write(&file, user).expect("write the consent configuration");
        let settings = Settings {
            consent: "prompt",
            config: Some(file),
            ..Settings::default()
        };
        let server = self
            .start(
                backend.fresh("consent").await,
                &settings,
                &format!("consent-{name}"),
            )
            .await;
        let client_id = flows::public_client(&server.issuer).await;
        let http = reqwest::Client::builder()
            .no_proxy()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        // `dev` has no password; `bench` has one, checked with argon2 as a person's would be.
        for (user, password, figure) in [
            ("dev", None, "code flow round trip, consent form"),
            (
                "bench",
                Some(BENCH_PASSWORD),
                "code flow round trip, consent form with password",
            ),
        ] {
            let trips = self
                .trips(|| flows::form_round_trip(&http, &server.issuer, &client_id, user, password))
                .await;
            note!(
                "{}",
                trips.line(&format!("code flow, consent form as {user} (sequential)"))
            );
            report.put(
                figure,
                name,
                format!("p50 {:.2}, p99 {:.2} ms", trips.ms(0.5), trips.ms(0.99)),
                "p50 <= 2 ms",
            );
        }
        server.stop().await;
    }

    async fn metadata(&self, server: &Tollgate, report: &mut Report) {
        let http = load::client();
        let fetch = |url: String| {
            let http = http.clone();
            async move {
                http.get(url)
                    .send()
                    .await
                    .expect("fetch")
                    .bytes()
                    .await
                    .expect("body")
            }
        };
        let metadata = fetch(server.url(server::METADATA)).await;
        let jwks = fetch(server.url(server::JWKS)).await;
        let bare = bare::Bare::start(&self.dir, &metadata, &jwks).await;
        for (label, path) in [("metadata", server::METADATA), ("JWKS", server::JWKS)] {
            let get =
                |url: String| -> load::Request { Arc::new(move |c: &reqwest::Client| c.get(&url)) };
            // Two rounds each, alternating, so that a burst of other work on the machine
            // falls on both.
            let half = (self.options.seconds / 2).max(Duration::from_secs(1));
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            for _ in 0..2 {
                ours.push(load::closed_loop(CONNECTIONS, half, get(server.url(path))).await);
                theirs.push(
                    load::closed_loop(CONNECTIONS, half, get(format!("{}{path}", bare.base))).await,
                );
            }
            let (ours, theirs) = (Sample::merge(ours), Sample::merge(theirs));
            note!("{}", ours.line(&format!("GET {label}")));
            note!("{}", theirs.line(&format!("GET {label}, bare axum")));
            report.put(
                &format!("{label} req/s, 8 connections (bare axum)"),
                "SQLite",
                format!(
                    "{:.0} = {:.0} % of {:.0}",
                    ours.rate(),
                    ours.rate() / theirs.rate().max(1.0) * 100.0,
                    theirs.rate()
                ),
                ">= 80 % of bare axum",
            );
        }
    }

    async fn events(&self, backend: &Backend, report: &mut Report) {
        const EVENT_ROUNDS: usize = 5;
        let quiet = Settings {
            events: false,
            ..Settings::default()
        };
        let off = self
            .start(backend.fresh("events-off").await, &quiet, "events-off")
            .await;
        let on = self
            .start(
                backend.fresh("events-on").await,
                &Settings::default(),
                "events-on",
            )
            .await;
        // The machine's speed drifts by more than the difference measured, so each round
        // compares two runs back to back, and the median round is reported.
        let (mut changes, mut cpu_off, mut cpu_on) = (Vec::new(), 0.0, 0.0);
        for round in 1..=EVENT_ROUNDS {
            let mut rates = [0.0; 2];
            let order = if round % 2 == 1 { [0, 1] } else { [1, 0] };
            for which in order {
                let (server, label, cpu) = match which {
                    0 => (&off, "off", &mut cpu_off),
                    _ => (&on, "on", &mut cpu_on),
                };
                let (sample, cpu_per_request) = self.token_load(server).await;
                note!(
                    "{}, {cpu_per_request:.0} µs CPU each",
                    sample.line(&format!("POST token, events {label} (round {round})"))
                );
                rates[which] = sample.rate();
                *cpu += cpu_per_request / EVENT_ROUNDS as f64;
            }
            changes.push((rates[1] - rates[0]) / rates[0].max(1.0) * 100.0);
        }
        let rounds: Vec<String> = changes.iter().map(|c| format!("{c:+.1}")).collect();
        changes.sort_by(f64::total_cmp);
        let median = changes[changes.len() / 2];
        report.put(
            "token endpoint, events on vs off",
            backend.name(),
            format!(
                "{median:+.1} % (median of rounds {}); CPU per request {:.0} vs {:.0} µs",
                rounds.join(", "),
                cpu_on,
                cpu_off
            ),
            "within 5 % (issue 12)",
        );
        off.stop().await;
        on.stop().await;
    }

    /// The open-loop mix at `rate` for `duration` on a fresh server.
    async fn mix_run(&self, backend: &Backend, rate: f64, duration: Duration) -> (Sample, String) {
        let name = format!("mix-{}", backend.name());
        let server = self
            .start(backend.fresh("mix").await, &Settings::default(), &name)
            .await;
        let issuer: Arc<str> = server.issuer.as_str().into();
        let token = flows::client_credentials(&issuer).await;
        let public: Arc<str> = flows::public_client(&issuer).await.into();
        let codes = Arc::new(Mutex::new(Vec::<String>::new()));
        // One pool for the whole mix: as many connections as requests in flight.
        let http = load::client();
        let sample = load::open_loop(rate, duration, 1024, |i| {
            let (http, issuer, public, codes, token) = (
                http.clone(),
                Arc::clone(&issuer),
                Arc::clone(&public),
                Arc::clone(&codes),
                Arc::clone(&token),
            );
            Box::pin(async move {
                let authorize = || async {
                    let response = flows::authorize_request(&http, &issuer, &public)
                        .send()
                        .await
                        .ok()?;
                    let code = flows::code_of(&response)?;
                    codes.lock().expect("codes").push(code);
                    Some(())
                };
                match i % 4 {
                    0 => token(&http)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success()),
                    1 => authorize().await.is_some(),
                    2 => {
                        let code = codes.lock().expect("codes").pop();
                        match code {
                            Some(code) => flows::redeem_request(&http, &issuer, &public, &code)
                                .send()
                                .await
                                .is_ok_and(|r| r.status().is_success()),
                            // The matching authorization has not come back yet.
                            None => authorize().await.is_some(),
                        }
                    }
                    _ => http
                        .post(format!("{issuer}/register"))
                        .json(&flows::public_body())
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success()),
                }
            })
        })
        .await;
        let sizes = sizes(&server).await;
        server.stop().await;
        (sample, sizes)
    }

    async fn mix(&self, backend: &Backend, report: &mut Report) {
        let passes = |s: &Sample| {
            s.ms(0.99) < MIX_P99_MS && s.failures * 1000 <= s.count() + s.failures && s.count() > 0
        };
        let step = |rate: f64| async move {
            let (sample, _) = self.mix_run(backend, rate, self.options.step_seconds).await;
            note!(
                "{}",
                sample.line(&format!(
                    "mix at {rate:.0}/s, {} s",
                    self.options.step_seconds.as_secs()
                ))
            );
            passes(&sample)
        };
        let mut passed = Vec::new();
        let mut failed = None;
        for rate in MIX_RATES {
            if !step(rate).await {
                failed = Some(rate);
                break;
            }
            passed.push(rate);
        }
        // Two halvings of the gap between the last rate that passed and the first that did
        // not, to multiples of 25/s: the ladder alone says "between 250 and 500".
        if let Some(mut high) = failed {
            let mut low = passed.last().copied().unwrap_or(0.0);
            for _ in 0..2 {
                let middle = ((low + high) / 2.0 / 25.0).round() * 25.0;
                if middle <= low || middle >= high {
                    break;
                }
                if step(middle).await {
                    passed.push(middle);
                    low = middle;
                } else {
                    high = middle;
                }
            }
        }
        passed.sort_by(f64::total_cmp);
        let mut found = None;
        // Confirm over the full duration: the highest passing rate, else the next one down,
        // and so on. A short step can pass at a rate that a minute cannot hold (the database
        // grows by about 100 MiB a minute at 2,000/s).
        for &rate in passed.iter().rev() {
            let (sample, sizes) = self.mix_run(backend, rate, self.options.mix_seconds).await;
            note!(
                "{} {sizes}",
                sample.line(&format!(
                    "mix at {rate:.0}/s, {} s",
                    self.options.mix_seconds.as_secs()
                ))
            );
            if passes(&sample) {
                found = Some((rate, sample, sizes));
                break;
            }
        }
        let value = match found {
            Some((rate, sample, sizes)) => format!(
                "{rate:.0}/s (p50 {:.1}, p99 {:.1} ms){}",
                sample.ms(0.5),
                sample.ms(0.99),
                if sizes.is_empty() {
                    String::new()
                } else {
                    format!("; {sizes}")
                }
            ),
            None => "none passed".to_owned(),
        };
        report.put(
            &format!(
                "mixed load, highest rate with p99 < 50 ms, {} s",
                self.options.mix_seconds.as_secs()
            ),
            backend.name(),
            value,
            ">= 1,500/s on SQLite",
        );
    }

    async fn state(&self, backend: &Backend, n: u64, report: &mut Report) {
        let name = backend.name();
        let database = backend.fresh("state").await;
        let server = self
            .start(
                database.clone(),
                &Settings::default(),
                &format!("state-{name}"),
            )
            .await;
        let client_id = flows::public_client(&server.issuer).await;
        // Rows for the templates: a refresh token comes with the code flow's tokens.
        let http = load::client();
        let (empty_token, _) = self.token_load(&server).await;
        let empty_code = self
            .trips(|| flows::auto_round_trip(&http, &server.issuer, &client_id))
            .await;
        note!("{}", empty_token.line("POST token, empty database"));
        note!("{}", empty_code.line("code flow, empty database"));
        server.stop().await;

        let seeded = state::seed(&database.url, n).await;
        let rows: Vec<String> = seeded
            .rows
            .iter()
            .map(|(t, c)| format!("{c} {t}"))
            .collect();
        note!(
            "seeded {} in {:.0} s",
            rows.join(", "),
            seeded.took.as_secs_f64()
        );

        let server = self
            .start(
                database,
                &Settings::default(),
                &format!("state-{name}-seeded"),
            )
            .await;
        let (full_token, _) = self.token_load(&server).await;
        let full_code = self
            .trips(|| flows::auto_round_trip(&http, &server.issuer, &client_id))
            .await;
        note!("{}", full_token.line("POST token, seeded database"));
        note!("{}", full_code.line("code flow, seeded database"));
        let sizes = sizes(&server).await;
        note!("after the run: {sizes}");
        server.stop().await;
        let ratio = |full: f64, empty: f64| (full - empty) / empty.max(1e-9) * 100.0;
        report.put(
            &format!("token p50, {n} clients seeded vs empty"),
            name,
            format!(
                "{:.2} vs {:.2} ms ({:+.0} %)",
                full_token.ms(0.5),
                empty_token.ms(0.5),
                ratio(full_token.ms(0.5), empty_token.ms(0.5))
            ),
            "within 20 %",
        );
        report.put(
            &format!("code flow p50, {n} clients seeded vs empty"),
            name,
            format!(
                "{:.2} vs {:.2} ms ({:+.0} %)",
                full_code.ms(0.5),
                empty_code.ms(0.5),
                ratio(full_code.ms(0.5), empty_code.ms(0.5))
            ),
            "within 20 %",
        );
        report.put(
            "database size after the state run",
            name,
            sizes,
            "bounded WAL",
        );
    }
}

/// The database's size (and SQLite's WAL) while `server` runs.
async fn sizes(server: &Tollgate) -> String {
    if let Some((db, wal)) = server.database.sqlite_sizes() {
        return format!("db {} MiB, WAL {} MiB", mib(db / 1024), mib(wal / 1024));
    }
    use sqlx::Connection;
    let Ok(mut connection) = sqlx::PgConnection::connect(&server.database.url).await else {
        return String::new();
    };
    let size: Option<i64> = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&mut connection)
        .await
        .ok();
    connection.close().await.ok();
    size.map_or_else(String::new, |bytes| {
        format!("db {} MiB", mib(bytes as u64 / 1024))
    })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// Median, minimum and maximum.
fn spread(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let median = values.get(values.len() / 2).copied().unwrap_or_default();
    (
        median,
        values.first().copied().unwrap_or_default(),
        values.last().copied().unwrap_or_default(),
    )
}

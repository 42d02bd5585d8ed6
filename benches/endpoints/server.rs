//! The server under test: the release `tollgate serve` in its own process, on a database of
//! its own (a SQLite file in a temporary directory, or a PostgreSQL database created for it),
//! with its CPU time and resident memory read from `/proc`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

pub const METADATA: &str = "/.well-known/oauth-authorization-server";
pub const JWKS: &str = "/jwks.json";

/// Where the databases of a run live.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(PathBuf),
    /// A URL of a database this run may connect to; it creates and drops its own beside it.
    Postgres(url::Url),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }

    /// A new, empty database called `name` (dropped first if a previous run left it).
    pub async fn fresh(&self, name: &str) -> Database {
        match self {
            Backend::Sqlite(dir) => {
                let file = dir.join(format!("{name}.db"));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
                Database {
                    url: format!("sqlite://{}", file.display()),
                    file: Some(file),
                }
            }
            Backend::Postgres(admin) => {
                use sqlx::Connection;
                // `name` is one of the bench's own identifiers, never input.
                let database = format!("tollgate_bench_{name}").replace('-', "_");
                let mut connection = sqlx::PgConnection::connect(admin.as_str())
                    .await
                    .expect("connect to TOLLGATE_BENCH_POSTGRES_URL");
                let drop = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
                sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                    .execute(&mut connection)
                    .await
                    .expect("drop the bench database");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
                    .execute(&mut connection)
                    .await
                    .expect("create the bench database");
                connection.close().await.ok();
                let mut url = admin.clone();
                url.set_path(&format!("/{database}"));
                Database {
                    url: url.to_string(),
                    file: None,
                }
            }
        }
    }
}

/// One database: its URL, and its file for SQLite.
#[derive(Debug, Clone)]
pub struct Database {
    pub url: String,
    pub file: Option<PathBuf>,
}

impl Database {
    /// The SQLite file's size and its write-ahead log's, in bytes.
    pub fn sqlite_sizes(&self) -> Option<(u64, u64)> {
        let file = self.file.as_ref()?;
        let size = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len());
        Some((
            size(file),
            size(Path::new(&format!("{}-wal", file.display()))),
        ))
    }
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `auto` or `prompt`.
    pub consent: &'static str,
    pub events: bool,
    /// A configuration file, for the start-up figures.
    pub config: Option<PathBuf>,
    /// No `TOLLGATE_*` settings at all: the defaults (or the file), as a user starts it.
    pub plain: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            consent: "auto",
            events: true,
            config: None,
            plain: false,
        }
    }
}

/// A running `tollgate serve`, killed when dropped.
pub struct Tollgate {
    child: Child,
    pub pid: u32,
    pub issuer: String,
    pub database: Database,
    /// From spawning the process to the first `200` on the metadata document.
    pub ready_after: Duration,
}

impl Tollgate {
    /// Starts the server on `database` and waits for its first `200` on the metadata.
    pub async fn start(database: Database, settings: &Settings, log: &Path) -> Tollgate {
        // `TOLLGATE_BENCH_BINARY` measures another build (an older commit's) with this same
        // harness, for before-and-after figures.
        let binary = std::env::var_os("TOLLGATE_BENCH_BINARY")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_tollgate").into());
        let mut command = Command::new(binary);
        command.arg("serve");
        if let Some(file) = &settings.config {
            command.arg("--config").arg(file);
        }
        command
            .args(["--bind", "127.0.0.1:0", "--database-url", &database.url])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("server log file"))
            .kill_on_drop(true);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TOLLGATE_") {
                command.env_remove(name);
            }
        }
        if !settings.plain {
            // The bench's clients come from one address: lift the per-address limits, which
            // would otherwise answer 429 within a second.
            command
                .env("TOLLGATE_CONSENT__MODE", settings.consent)
                .env("TOLLGATE_EVENTS__ENABLED", settings.events.to_string())
                .env("TOLLGATE_REGISTRATION__PER_MINUTE", "0")
                .env("TOLLGATE_LIMITS__AUTHORIZATIONS_PER_MINUTE", "0");
        }
        let spawned = Instant::now();
        let mut child = command.spawn().expect("spawn tollgate serve");
        let pid = child.id().expect("pid");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        // "tollgate listening on 127.0.0.1:PORT with issuer ISSUER"
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .ok()
            .and_then(Result::ok)
            .flatten()
            .unwrap_or_else(|| {
                panic!(
                    "tollgate serve did not start; its log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
        let addr = line
            .strip_prefix("tollgate listening on ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        let issuer = line
            .rsplit(' ')
            .next()
            .expect("issuer")
            .trim_end_matches('/')
            .to_owned();
        // Keep reading stdout so that the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let deadline = Instant::now() + Duration::from_secs(30);
        while !metadata_answers(&addr).await {
            assert!(Instant::now() < deadline, "no 200 on the metadata in 30 s");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Tollgate {
            child,
            pid,
            issuer,
            database,
            ready_after: spawned.elapsed(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// CPU time the process has used (user plus system), from `/proc/<pid>/stat`.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.pid)
    }

    /// Resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid)
    }

    /// Resident memory once the server is idle: polled every 250 ms until two readings a
    /// second apart agree within 1 % (background work such as the argon2 check of declared
    /// secrets has finished and the allocator has settled), at most `limit`.
    pub async fn idle_rss_kib(&self, limit: Duration) -> u64 {
        let deadline = Instant::now() + limit;
        let mut readings: Vec<u64> = vec![self.rss_kib()];
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            readings.push(self.rss_kib());
            if let [.., a, _, _, _, b] = readings[..] {
                if a.abs_diff(b) * 100 <= a {
                    break;
                }
            }
        }
        readings.last().copied().unwrap_or_default()
    }

    /// SIGTERM, and the exit within 10 s (else SIGKILL).
    pub async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Whether a raw `GET` of the metadata answers `200` (no HTTP client: the start-up figure
/// should not include one's set-up).
async fn metadata_answers(addr: &str) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let request = format!("GET {METADATA} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// User plus system CPU time of `pid`: fields 14 and 15 of `/proc/<pid>/stat`, in clock
/// ticks of 1/100 s (`USER_HZ`, 100 on Linux whatever the kernel's own tick).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3, so utime (14) and stime (15) are at 11 and 12.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// `VmRSS` of `pid` in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

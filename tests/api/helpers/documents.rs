//! Client ID Metadata Documents served from 127.0.0.1:0, standing in for a client's website:
//! [`DocumentServer`] answers each path as told and counts what it was asked;
//! [`ChunkedServer`] sends a document without a `Content-Length`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::serve::ListenerExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The MCP specification's example document, for `url`, with `extra` members appended
/// (`,"name":value...`).
pub fn example_document(url: &str, extra: &str) -> String {
    format!(
        r#"{{"client_id":"{url}","client_name":"Example MCP Client",
        "client_uri":"https://app.example.com",
        "redirect_uris":["http://localhost/callback","http://127.0.0.1:3000/callback"],
        "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
        "token_endpoint_auth_method":"none"{extra}}}"#
    )
}

/// What the document server answers for one path.
#[derive(Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// How long to wait before answering.
    pub delay: Duration,
}

impl Answer {
    /// `200` with a JSON `body` and `Cache-Control: cache_control`.
    pub fn json(body: String, cache_control: &str) -> Answer {
        Answer {
            status: StatusCode::OK,
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("cache-control", cache_control.to_owned()),
            ],
            body,
            delay: Duration::ZERO,
        }
    }

    /// `status` with an empty body and no headers.
    pub fn status(status: StatusCode) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    /// A `302` to `location`.
    pub fn redirect(location: &str) -> Answer {
        Answer::status(StatusCode::FOUND).with_header("location", location)
    }

    pub fn with_status(mut self, status: StatusCode) -> Answer {
        self.status = status;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Answer {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct Documents {
    answers: HashMap<String, Answer>,
    hits: HashMap<String, usize>,
}

/// A document server on 127.0.0.1:0; paths it was not told about answer 404.
pub struct DocumentServer {
    base: String,
    state: Arc<Mutex<Documents>>,
    /// TCP connections accepted, whatever came over them (a TLS handshake, a GET).
    connections: Arc<AtomicUsize>,
}

impl DocumentServer {
    pub async fn start() -> DocumentServer {
        let state = Arc::new(Mutex::new(Documents::default()));
        let router = Router::new()
            .route("/{*path}", axum::routing::get(serve))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        let listener = listener.tap_io(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        tokio::spawn(async move { axum::serve(listener, router).await });
        DocumentServer {
            base,
            state,
            connections,
        }
    }

    pub fn port(&self) -> &str {
        self.base.rsplit(':').next().unwrap()
    }

    /// TCP connections made to this server so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:PORT/path`: the client id of the document at `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// Answers `path` with `answer` from now on.
    pub fn answer(&self, path: &str, answer: Answer) {
        self.state
            .lock()
            .unwrap()
            .answers
            .insert(path.to_owned(), answer);
    }

    /// A valid document for `path` (its client id is `self.url(path)`) with
    /// `cache_control`, to change before answering with it.
    pub fn valid(&self, path: &str, cache_control: &str) -> Answer {
        Answer::json(example_document(&self.url(path), ""), cache_control)
    }

    /// Serves a valid document for `path` with `cache_control`.
    pub fn publish(&self, path: &str, cache_control: &str) {
        self.answer(path, self.valid(path, cache_control));
    }

    /// How many requests for `path` arrived.
    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

async fn serve(
    State(state): State<Arc<Mutex<Documents>>>,
    Path(path): Path<String>,
) -> impl IntoResponse {
    let answer = {
        let mut state = state.lock().unwrap();
        *state.hits.entry(path.clone()).or_default() += 1;
        state.answers.get(&path).cloned()
    };
    let Some(answer) = answer else {
        return (StatusCode::NOT_FOUND, HeaderMap::new(), String::new());
    };
    tokio::time::sleep(answer.delay).await;
    let mut headers = HeaderMap::new();
    for (name, value) in answer.headers {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    (answer.status, headers, answer.body)
}

/// A document server that answers every request with a valid document of `size` bytes
/// sent in 1 KB chunks (`Transfer-Encoding: chunked`, no `Content-Length`).
pub struct ChunkedServer {
    pub url: String,
    requests: Arc<AtomicUsize>,
}

impl ChunkedServer {
    pub async fn start(size: usize) -> ChunkedServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/chunked.json", listener.local_addr().unwrap());
        let padding = format!(r#","padding":"{}""#, "x".repeat(size));
        let body = example_document(&url, &padding).into_bytes();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                transfer-encoding: chunked\r\ncache-control: no-store\r\n\r\n";
                    let _ = stream.write_all(head.as_bytes()).await;
                    for chunk in body.chunks(1024) {
                        let size = format!("{:x}\r\n", chunk.len());
                        let sent = async {
                            stream.write_all(size.as_bytes()).await?;
                            stream.write_all(chunk).await?;
                            stream.write_all(b"\r\n").await?;
                            stream.flush().await
                        };
                        if sent.await.is_err() {
                            return;
                        }
                    }
                    let _ = stream.write_all(b"0\r\n\r\n").await;
                });
            }
        });
        ChunkedServer { url, requests }
    }

    /// Requests accepted so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

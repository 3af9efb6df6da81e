//! The receivers an alert sink delivers to while the kit runs it: a loopback HTTP listener
//! and a loopback SMTP relay, each answering every delivery one way (accept or refuse) and
//! recording what reached it, and the rewriting that points an example configuration at them.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use serde_json::Value;
use tokio::net::TcpListener;

/// `config` (JSON) with every `http://` or `https://` URL in it pointed at `http` (path and
/// query kept) and, where `smtp` is given, every `HOST:PORT` pointed at it.
pub(super) fn point_at(config: &str, http: &str, smtp: Option<&str>) -> String {
    fn walk(value: &mut Value, http: &str, smtp: Option<&str>) {
        match value {
            Value::String(s) if s.starts_with("http://") || s.starts_with("https://") => {
                if let Ok(url) = url::Url::parse(s) {
                    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
                    *s = format!("http://{http}{}{query}", url.path());
                }
            }
            Value::String(s) if smtp.is_some() && is_host_port(s) => {
                *s = smtp.unwrap_or_default().to_string();
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, http, smtp)),
            Value::Object(map) => map.values_mut().for_each(|v| walk(v, http, smtp)),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(config) {
        Ok(mut value) => {
            walk(&mut value, http, smtp);
            value.to_string()
        }
        Err(_) => config.to_string(),
    }
}

/// `name:port`, as a relay is named.
fn is_host_port(s: &str) -> bool {
    s.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
            && port.parse::<u16>().is_ok()
    })
}

/// A request that reached the HTTP listener.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub method: String,
    pub path: String,
    pub body: String,
}

/// A loopback server on a free port, and what reached it.
pub(super) struct Loopback<T> {
    host: String,
    received: Arc<Mutex<Vec<T>>>,
    task: tokio::task::JoinHandle<()>,
}

/// The HTTP listener: every request answered with one status.
pub(super) type Listener = Loopback<Received>;
/// The SMTP relay: every message's headers and body.
pub(super) type SmtpListener = Loopback<String>;

impl<T: Clone + Send + 'static> Loopback<T> {
    async fn bind<F, Fut>(serve: F) -> std::io::Result<Self>
    where
        F: FnOnce(TcpListener, Arc<Mutex<Vec<T>>>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let socket = TcpListener::bind("127.0.0.1:0").await?;
        let host = socket.local_addr()?.to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(serve(socket, received.clone()));
        Ok(Self {
            host,
            received,
            task,
        })
    }

    /// `127.0.0.1:PORT`, as a grant names it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// What reached it so far.
    pub fn received(&self) -> Vec<T> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl<T> Drop for Loopback<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Loopback<Received> {
    /// An HTTP listener that answers every request with `answer`.
    pub async fn http(answer: StatusCode) -> std::io::Result<Self> {
        Self::bind(move |socket, received| async move {
            let app = Router::new()
                .fallback(record)
                .with_state(Recorder { answer, received });
            let _ = axum::serve(socket, app).await;
        })
        .await
    }
}

impl Loopback<String> {
    /// An SMTP relay that speaks just enough of the protocol for plain sessions, and accepts
    /// (250) or refuses (554) each message at the end of its data.
    pub async fn smtp(accept: bool) -> std::io::Result<Self> {
        Self::bind(move |socket, inbox| async move {
            while let Ok((stream, _)) = socket.accept().await {
                let inbox = inbox.clone();
                tokio::spawn(async move {
                    let _ = smtp_session(stream, accept, inbox).await;
                });
            }
        })
        .await
    }
}

#[derive(Clone)]
struct Recorder {
    answer: StatusCode,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn record(
    State(r): State<Recorder>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> (StatusCode, &'static str) {
    if let Ok(mut received) = r.received.lock() {
        received.push(Received {
            method: method.to_string(),
            path: uri.path().to_string(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    (
        r.answer,
        if r.answer.is_success() {
            "ok"
        } else {
            "unavailable"
        },
    )
}

async fn smtp_session(
    stream: tokio::net::TcpStream,
    accept: bool,
    inbox: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 ferry-plugin-test ESMTP\r\n").await?;
    let mut data: Option<String> = None;
    while let Some(line) = lines.next_line().await? {
        if let Some(message) = data.as_mut() {
            if line == "." {
                if let Ok(mut inbox) = inbox.lock() {
                    inbox.push(std::mem::take(message));
                }
                data = None;
                let reply: &[u8] = if accept {
                    b"250 queued\r\n"
                } else {
                    b"554 refused by ferry plugin test\r\n"
                };
                write.write_all(reply).await?;
            } else {
                message.push_str(line.strip_prefix('.').unwrap_or(&line));
                message.push('\n');
            }
            continue;
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-ferry-plugin-test\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                data = Some(String::new());
                b"354 end with <CRLF>.<CRLF>\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

//! A minimal Socket.IO v5 client over WebSocket (Engine.IO v4), written for the tests: it
//! speaks the protocol a browser's socket.io-client speaks, lets a test set the `Origin`
//! header, and reports handshake refusals (`connect_error`) as errors.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

/// Why a socket could not be used.
#[derive(Debug)]
pub enum SocketError {
    /// The server refused the namespace connection; carries its `connect_error` message.
    Refused(String),
    /// The WebSocket could not be opened or the protocol went wrong.
    Transport(String),
}

impl std::fmt::Display for SocketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SocketError::Refused(message) => write!(f, "refused: {message}"),
            SocketError::Transport(message) => write!(f, "transport: {message}"),
        }
    }
}

impl std::error::Error for SocketError {}

fn transport(e: impl std::fmt::Display) -> SocketError {
    SocketError::Transport(e.to_string())
}

/// A connected socket on the default namespace.
pub struct SocketClient {
    events: mpsc::UnboundedReceiver<(String, Value)>,
    acks: mpsc::UnboundedReceiver<(u64, Value)>,
    outgoing: mpsc::UnboundedSender<String>,
    next_ack_id: u64,
}

impl SocketClient {
    /// Connects to `url` (`ws://host:port/socket/`) with `auth` as the handshake auth payload,
    /// and an `Origin` header when given.
    pub async fn connect(
        url: &str,
        auth: Value,
        origin: Option<&str>,
    ) -> Result<Self, SocketError> {
        let mut request = format!("{url}?EIO=4&transport=websocket")
            .into_client_request()
            .map_err(transport)?;
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_str(origin).map_err(transport)?);
        }
        let (stream, _) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::connect_async(request),
        )
        .await
        .map_err(transport)?
        .map_err(transport)?;
        let (mut sink, mut source) = stream.split();

        // Engine.IO open packet, then the Socket.IO CONNECT with the auth payload.
        let open = next_text(&mut source).await?;
        if !open.starts_with('0') {
            return Err(transport(format!("expected an open packet, got {open}")));
        }
        sink.send(Message::Text(format!("40{auth}").into()))
            .await
            .map_err(transport)?;
        loop {
            let packet = next_text(&mut source).await?;
            if packet == "2" {
                sink.send(Message::Text("3".into()))
                    .await
                    .map_err(transport)?;
            } else if packet.starts_with("40") {
                break;
            } else if let Some(error) = packet.strip_prefix("44") {
                let message = serde_json::from_str::<Value>(error)
                    .ok()
                    .and_then(|v| v["message"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| error.to_owned());
                return Err(SocketError::Refused(message));
            } else {
                return Err(transport(format!(
                    "unexpected packet before connect: {packet}"
                )));
            }
        }

        let (events_tx, events) = mpsc::unbounded_channel();
        let (acks_tx, acks) = mpsc::unbounded_channel();
        let (outgoing, mut outgoing_rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    frame = source.next() => {
                        let Some(Ok(Message::Text(text))) = frame else { break };
                        let text = text.as_str();
                        if text == "2" {
                            if sink.send(Message::Text("3".into())).await.is_err() { break; }
                        } else if let Some(event) = text.strip_prefix("42") {
                            if let Ok(Value::Array(mut parts)) = serde_json::from_str::<Value>(event)
                                && !parts.is_empty()
                            {
                                let name = parts.remove(0).as_str().unwrap_or_default().to_owned();
                                let data = parts.into_iter().next().unwrap_or(Value::Null);
                                let _ = events_tx.send((name, data));
                            }
                        } else if let Some(ack) = text.strip_prefix("43") {
                            // `43<id>[data]`: the server's answer to an event sent with an ack id.
                            let digits = ack.bytes().take_while(u8::is_ascii_digit).count();
                            if let (Ok(id), Ok(Value::Array(parts))) = (
                                ack[..digits].parse::<u64>(),
                                serde_json::from_str::<Value>(&ack[digits..]),
                            ) {
                                let data = parts.into_iter().next().unwrap_or(Value::Null);
                                let _ = acks_tx.send((id, data));
                            }
                        } else if text.starts_with('1') || text.starts_with("41") {
                            break;
                        }
                    }
                    packet = outgoing_rx.recv() => {
                        let Some(packet) = packet else { break };
                        if sink.send(Message::Text(packet.into())).await.is_err() { break; }
                    }
                }
            }
        });
        Ok(Self {
            events,
            acks,
            outgoing,
            next_ack_id: 0,
        })
    }

    /// Sends the event `name` with `data`, as `socket.emit(name, data)` does.
    pub fn emit(&self, name: &str, data: &Value) -> Result<(), SocketError> {
        self.send_raw(format!("42{}", serde_json::json!([name, data])))
    }

    /// Sends the event `name` with `data` and an ack id, and waits for the server's ack: its
    /// first argument, or `None` on timeout or disconnection.
    pub async fn emit_with_ack(
        &mut self,
        name: &str,
        data: &Value,
        timeout: Duration,
    ) -> Option<Value> {
        let id = self.next_ack_id;
        self.next_ack_id += 1;
        self.send_raw(format!("42{id}{}", serde_json::json!([name, data])))
            .ok()?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (ack_id, data) = tokio::time::timeout_at(deadline, self.acks.recv())
                .await
                .ok()??;
            if ack_id == id {
                return Some(data);
            }
        }
    }

    /// Sends a raw Engine.IO text packet (for protocol-abuse tests).
    pub fn send_raw(&self, packet: String) -> Result<(), SocketError> {
        self.outgoing.send(packet).map_err(transport)
    }

    /// The next event called `name`, skipping others; `None` on timeout or disconnection.
    pub async fn expect_event(&mut self, name: &str, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (event, data) = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .ok()??;
            if event == name {
                return Some(data);
            }
        }
    }

    /// Whether the server closed the connection within `timeout`.
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }
}

async fn next_text<S>(source: &mut S) -> Result<String, SocketError>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), source.next())
            .await
            .map_err(|_| transport("no packet within 5 s"))?
            .ok_or_else(|| transport("connection closed"))?
            .map_err(transport)?;
        match frame {
            Message::Text(text) => return Ok(text.as_str().to_owned()),
            Message::Close(_) => return Err(transport("connection closed")),
            _ => continue,
        }
    }
}

//! A real SMTP server on loopback for tests. The mailer under test speaks real ESMTP over TCP
//! to it, so what is tested is what production does against a relay; the sink keeps every
//! accepted message for the test to read, and can be told to fail the way relays fail
//! (transient 4xx, permanent 5xx per recipient, slow replies).
//!
//! It speaks what lettre needs and nothing more: no TLS, no AUTH (neither is advertised), no
//! pipelining. Several connections are served at once, several messages per connection.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use base64::Engine as _;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    task::{JoinHandle, JoinSet},
};

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// The envelope recipients (`RCPT TO`) the sink accepted, without angle brackets.
    pub to: Vec<String>,
    /// The message as sent after `DATA` (RFC 5322, CRLF line ends), dot-stuffing undone.
    pub data: String,
}

/// The local SMTP server; stops (with every open connection) when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<Mutex<SinkState>>,
    accept_task: JoinHandle<()>,
}

#[derive(Default)]
struct SinkState {
    messages: Vec<ReceivedMail>,
    /// Transactions that sent at least one `RCPT`.
    attempts: usize,
    /// How many more transactions get `fail_reply` at their first `RCPT`.
    fail_remaining: usize,
    fail_reply: String,
    /// Lower-cased address → the reply its `RCPT` gets.
    rejected: HashMap<String, String>,
    /// Wait before answering the end of `DATA`.
    delay: Duration,
}

impl SmtpSink {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the SMTP sink binds a loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let state = Arc::new(Mutex::new(SinkState::default()));
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Self {
            addr,
            state,
            accept_task,
        }
    }

    /// `smtp://127.0.0.1:{port}`: plain SMTP, what `SMTP_URL` is set to in tests.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.lock().messages.clone()
    }

    /// Waits until at least `count` messages arrived and returns them all; panics after
    /// `timeout` saying how many did arrive.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "SMTP sink: expected at least {count} message(s) within {timeout:?}, got {}",
                    messages.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Transactions that reached `RCPT`, whether they then failed or not.
    pub fn attempts(&self) -> usize {
        self.lock().attempts
    }

    /// The next `transactions` transactions get `reply` (e.g. `"451 4.3.0 try again later"`)
    /// to their `RCPT`, and so never reach `DATA`.
    pub fn fail_next(&self, transactions: usize, reply: &str) {
        let reply = checked_reply(reply);
        let mut state = self.lock();
        state.fail_remaining = transactions;
        state.fail_reply = reply;
    }

    /// Every `RCPT` to `address` (compared case-insensitively) gets `reply`, for example
    /// `"550 5.1.1 no such user"`.
    pub fn reject_recipient(&self, address: &str, reply: &str) {
        let reply = checked_reply(reply);
        self.lock()
            .rejected
            .insert(address.to_ascii_lowercase(), reply);
    }

    /// Waits `delay` before answering the end of each message's `DATA` (the message is stored
    /// after the wait, so a client that gave up before it still finds it stored).
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    fn lock(&self) -> MutexGuard<'_, SinkState> {
        lock(&self.state)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // The connection tasks live in a JoinSet owned by the accept task, so they go with it.
        self.accept_task.abort();
    }
}

fn lock(state: &Mutex<SinkState>) -> MutexGuard<'_, SinkState> {
    // A panicking test thread must not hide the messages from the rest of the test.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn checked_reply(reply: &str) -> String {
    let code = reply.get(..3).unwrap_or_default();
    assert!(
        code.len() == 3
            && code.bytes().all(|b| b.is_ascii_digit())
            && matches!(code.as_bytes()[0], b'4' | b'5'),
        "an SMTP failure reply starts with a 4xx or 5xx code, got {reply:?}"
    );
    assert!(
        !reply.contains(['\r', '\n']),
        "one reply line, got {reply:?}"
    );
    reply.to_owned()
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<SinkState>>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(serve(stream, Arc::clone(&state)));
                }
            }
            // Reap finished connections so the set does not grow over a long test.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The transaction being built on one connection.
#[derive(Default)]
struct Transaction {
    from: Option<String>,
    to: Vec<String>,
    /// Counted in `attempts` already.
    counted: bool,
    /// Picked by `fail_next`: every `RCPT` of it gets this reply.
    failing: Option<String>,
}

async fn serve(stream: TcpStream, state: Arc<Mutex<SinkState>>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    if write
        .write_all(b"220 noillin-sink ESMTP\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut transaction = Transaction::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        match read.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = String::from_utf8_lossy(&line);
        let command = command.trim_end_matches(['\r', '\n']);
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => "250-noillin-sink\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned(),
            "HELO" => "250 noillin-sink".to_owned(),
            "MAIL" => match path_argument(command, "FROM:") {
                Some(from) => {
                    transaction = Transaction {
                        from: Some(from),
                        ..Transaction::default()
                    };
                    "250 2.1.0 OK".to_owned()
                }
                None => "501 5.5.4 syntax: MAIL FROM:<address>".to_owned(),
            },
            "RCPT" => recipient(command, &mut transaction, &state),
            "DATA" if transaction.to.is_empty() => "503 5.5.1 no valid recipients".to_owned(),
            "DATA" => {
                if write
                    .write_all(b"354 end data with <CRLF>.<CRLF>\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let Some(data) = read_data(&mut read).await else {
                    return;
                };
                let delay = lock(&state).delay;
                tokio::time::sleep(delay).await;
                let mut state = lock(&state);
                state.messages.push(ReceivedMail {
                    from: transaction.from.take().unwrap_or_default(),
                    to: std::mem::take(&mut transaction.to),
                    data,
                });
                transaction = Transaction::default();
                format!("250 2.0.0 OK queued as {}", state.messages.len())
            }
            "RSET" => {
                transaction = Transaction::default();
                "250 2.0.0 OK".to_owned()
            }
            "NOOP" => "250 2.0.0 OK".to_owned(),
            "QUIT" => {
                let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
                return;
            }
            _ => "502 5.5.2 command not implemented".to_owned(),
        };
        if write
            .write_all(format!("{reply}\r\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

fn recipient(command: &str, transaction: &mut Transaction, state: &Mutex<SinkState>) -> String {
    if transaction.from.is_none() {
        return "503 5.5.1 MAIL first".to_owned();
    }
    let Some(address) = path_argument(command, "TO:") else {
        return "501 5.5.4 syntax: RCPT TO:<address>".to_owned();
    };
    let mut state = lock(state);
    if !transaction.counted {
        transaction.counted = true;
        state.attempts += 1;
        if state.fail_remaining > 0 {
            state.fail_remaining -= 1;
            transaction.failing = Some(state.fail_reply.clone());
        }
    }
    if let Some(reply) = &transaction.failing {
        return reply.clone();
    }
    if let Some(reply) = state.rejected.get(&address.to_ascii_lowercase()) {
        return reply.clone();
    }
    transaction.to.push(address);
    "250 2.1.5 OK".to_owned()
}

/// The address in `MAIL FROM:<a> ...` / `RCPT TO:<a> ...`, without brackets and parameters.
fn path_argument(command: &str, keyword: &str) -> Option<String> {
    let rest = command.get(5..)?.trim_start();
    if !rest.get(..keyword.len())?.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let path = rest[keyword.len()..].trim_start();
    let path = path.split_whitespace().next().unwrap_or_default();
    let address = path.strip_prefix('<')?.strip_suffix('>')?;
    Some(address.to_owned())
}

/// Reads the message up to the `.` line, undoing dot-stuffing; `None` if the client went away.
async fn read_data(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await.ok()? == 0 {
            return None;
        }
        if line == b".\r\n" || line == b".\n" {
            return Some(String::from_utf8_lossy(&data).into_owned());
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
}

impl ReceivedMail {
    /// The first header called `name` (case-insensitive), unfolded, with RFC 2047 encoded
    /// words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = split_entity(&self.data);
        header_in(headers, name)
    }

    pub fn subject(&self) -> Option<String> {
        self.header("Subject")
    }

    /// The `Message-ID` header as sent, angle brackets included.
    pub fn message_id(&self) -> Option<String> {
        self.header("Message-ID")
    }

    /// The decoded `text/plain` part (or the whole body of a plain message), LF line ends.
    pub fn text_body(&self) -> Option<String> {
        find_part(&self.data, "text/plain")
    }

    /// The decoded `text/html` part, LF line ends.
    pub fn html_body(&self) -> Option<String> {
        find_part(&self.data, "text/html")
    }
}

/// Splits an entity (a message or a MIME part) into its header block and its body.
fn split_entity(entity: &str) -> (&str, &str) {
    if let Some(body) = entity.strip_prefix("\r\n") {
        return ("", body);
    }
    match entity.find("\r\n\r\n") {
        Some(end) => (&entity[..end], &entity[end + 4..]),
        None => (entity, ""),
    }
}

fn header_in(headers: &str, name: &str) -> Option<String> {
    let unfolded = headers.replace("\r\n ", " ").replace("\r\n\t", "\t");
    unfolded.split("\r\n").find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field
            .trim()
            .eq_ignore_ascii_case(name)
            .then(|| decode_encoded_words(value.trim()))
    })
}

/// The value and the parameters of a header like `Content-Type: text/plain; charset=utf-8`.
fn header_parameters(value: &str) -> (String, HashMap<String, String>) {
    let mut pieces = value.split(';');
    let main = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let parameters = pieces
        .filter_map(|piece| {
            let (key, value) = piece.split_once('=')?;
            Some((
                key.trim().to_ascii_lowercase(),
                value.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect();
    (main, parameters)
}

/// The first leaf part of type `mime_type` in `entity`, searching multiparts depth first.
fn find_part(entity: &str, mime_type: &str) -> Option<String> {
    let (headers, body) = split_entity(entity);
    let content_type = header_in(headers, "Content-Type").unwrap_or("text/plain".to_owned());
    let (kind, parameters) = header_parameters(&content_type);
    if kind.starts_with("multipart/") {
        let boundary = parameters.get("boundary")?;
        return multipart_children(body, boundary)
            .into_iter()
            .find_map(|child| find_part(&child, mime_type));
    }
    if kind != mime_type {
        return None;
    }
    let encoding = header_in(headers, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()?
        }
        "quoted-printable" => {
            quoted_printable::decode(body, quoted_printable::ParseMode::Robust).ok()?
        }
        _ => body.as_bytes().to_vec(),
    };
    Some(String::from_utf8_lossy(&bytes).replace("\r\n", "\n"))
}

fn multipart_children(body: &str, boundary: &str) -> Vec<String> {
    let delimiter = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let mut children = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in body.split("\r\n") {
        let line_trimmed = line.trim_end();
        if line_trimmed == delimiter || line_trimmed == close {
            children.extend(current.take().map(|lines| lines.join("\r\n")));
            if line_trimmed == close {
                break;
            }
            current = Some(Vec::new());
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
    }
    children
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`); whitespace between
/// two encoded words is dropped, as the RFC says. Charsets other than UTF-8 are read as UTF-8.
fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut previous_was_encoded = false;
    for token in split_keeping_whitespace(value) {
        if token.chars().all(char::is_whitespace) {
            pending_space.push_str(token);
            continue;
        }
        match decode_encoded_word(token) {
            Some(decoded) => {
                if !previous_was_encoded {
                    out.push_str(&pending_space);
                }
                out.push_str(&decoded);
                previous_was_encoded = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(token);
                previous_was_encoded = false;
            }
        }
        pending_space.clear();
    }
    out.push_str(&pending_space);
    out
}

fn split_keeping_whitespace(value: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (index, c) in value.char_indices() {
        let space = c.is_whitespace();
        if in_space.is_some_and(|was| was != space) {
            tokens.push(&value[start..index]);
            start = index;
        }
        in_space = Some(space);
    }
    if start < value.len() {
        tokens.push(&value[start..]);
    }
    tokens
}

fn decode_encoded_word(token: &str) -> Option<String> {
    let inner = token.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut fields = inner.splitn(3, '?');
    let _charset = fields.next()?;
    let encoding = fields.next()?;
    let text = fields.next()?;
    let bytes = match encoding {
        "b" | "B" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
        "q" | "Q" => {
            quoted_printable::decode(text.replace('_', " "), quoted_printable::ParseMode::Robust)
                .ok()?
        }
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    /// A line-at-a-time SMTP client, to drive the sink exactly.
    struct RawClient {
        read: BufReader<tokio::net::tcp::OwnedReadHalf>,
        write: tokio::net::tcp::OwnedWriteHalf,
    }

    impl RawClient {
        async fn connect(sink: &SmtpSink) -> Self {
            let (read, write) = TcpStream::connect(sink.addr()).await.unwrap().into_split();
            let mut client = Self {
                read: BufReader::new(read),
                write,
            };
            assert!(client.reply().await.starts_with("220"));
            client
        }

        /// Reads one reply, multi-line replies joined with `\n`.
        async fn reply(&mut self) -> String {
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                self.read.read_line(&mut line).await.unwrap();
                let line = line.trim_end().to_owned();
                let last = line.as_bytes().get(3) != Some(&b'-');
                lines.push(line);
                if last {
                    return lines.join("\n");
                }
            }
        }

        async fn send(&mut self, text: &str) -> String {
            self.write.write_all(text.as_bytes()).await.unwrap();
            self.reply().await
        }
    }

    #[tokio::test]
    async fn ehlo_advertises_8bitmime_but_neither_starttls_nor_auth() {
        let sink = SmtpSink::start().await;
        let mut client = RawClient::connect(&sink).await;
        let reply = client.send("EHLO test\r\n").await;
        assert!(reply.contains("8BITMIME"), "{reply}");
        assert!(
            !reply.contains("STARTTLS") && !reply.contains("AUTH"),
            "{reply}"
        );
        assert!(client.send("QUIT\r\n").await.starts_with("221"));
    }

    #[tokio::test]
    async fn two_messages_on_one_connection_are_stored_with_dot_stuffing_undone() {
        let sink = SmtpSink::start().await;
        let mut client = RawClient::connect(&sink).await;
        client.send("EHLO test\r\n").await;
        for (n, recipient) in ["a@example.test", "b@example.test"].iter().enumerate() {
            assert!(
                client
                    .send("MAIL FROM:<from@example.test>\r\n")
                    .await
                    .starts_with("250")
            );
            let rcpt = format!("RCPT TO:<{recipient}>\r\n");
            assert!(client.send(&rcpt).await.starts_with("250"));
            assert!(client.send("DATA\r\n").await.starts_with("354"));
            let body = format!("Subject: n{n}\r\n\r\n..leading dot\r\n.\r\n");
            assert!(client.send(&body).await.starts_with("250"));
        }
        let messages = sink.wait_for(2, Duration::from_secs(1)).await;
        assert_eq!(messages[1].to, vec!["b@example.test"]);
        assert_eq!(messages[0].from, "from@example.test");
        assert_eq!(messages[0].subject().as_deref(), Some("n0"));
        assert_eq!(messages[0].text_body().as_deref(), Some(".leading dot\n"));
    }

    #[tokio::test]
    async fn fail_next_answers_rcpt_for_that_many_transactions_then_accepts() {
        let sink = SmtpSink::start().await;
        sink.fail_next(1, "451 4.3.0 try again later");
        let mut client = RawClient::connect(&sink).await;
        client.send("MAIL FROM:<f@example.test>\r\n").await;
        assert_eq!(
            client.send("RCPT TO:<t@example.test>\r\n").await,
            "451 4.3.0 try again later"
        );
        assert!(client.send("RSET\r\n").await.starts_with("250"));
        client.send("MAIL FROM:<f@example.test>\r\n").await;
        assert!(
            client
                .send("RCPT TO:<t@example.test>\r\n")
                .await
                .starts_with("250")
        );
        assert_eq!(sink.attempts(), 2);
    }

    #[tokio::test]
    async fn a_rejected_recipient_gets_its_reply_and_data_without_recipients_is_refused() {
        let sink = SmtpSink::start().await;
        sink.reject_recipient("Gone@Example.test", "550 5.1.1 no such user");
        let mut client = RawClient::connect(&sink).await;
        client.send("MAIL FROM:<f@example.test>\r\n").await;
        assert_eq!(
            client.send("RCPT TO:<gone@example.test>\r\n").await,
            "550 5.1.1 no such user"
        );
        assert!(client.send("DATA\r\n").await.starts_with("503"));
    }

    #[tokio::test]
    async fn dropping_the_sink_closes_open_connections() {
        let sink = SmtpSink::start().await;
        let mut client = RawClient::connect(&sink).await;
        drop(sink);
        let mut buffer = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(2), client.read.read(&mut buffer))
            .await
            .expect("the connection closes soon after the drop");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }

    fn mail(data: &str) -> ReceivedMail {
        ReceivedMail {
            from: String::new(),
            to: Vec::new(),
            data: data.to_owned(),
        }
    }

    #[test]
    fn folded_encoded_words_in_a_header_decode_to_one_value() {
        let received = mail(
            "Subject: You are =?utf-8?b?4oCc?=\r\n =?utf-8?b?UGFydHnigJ0=?=\r\nX-A: b\r\n\r\nbody\r\n",
        );
        assert_eq!(received.subject().as_deref(), Some("You are “Party”"));
        assert_eq!(received.header("x-a").as_deref(), Some("b"));
        assert_eq!(received.header("Missing"), None);
    }

    #[test]
    fn multipart_alternative_parts_decode_from_quoted_printable_and_base64() {
        let data = "Content-Type: multipart/alternative;\r\n boundary=\"XYZ\"\r\n\r\n\
            --XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\n\
            caf=C3=A9 line=\r\n continues\r\n\
            --XYZ\r\nContent-Type: text/html; charset=utf-8\r\n\
            Content-Transfer-Encoding: base64\r\n\r\n\
            PHA+aGk8\r\nL3A+\r\n\
            --XYZ--\r\n";
        let received = mail(data);
        assert_eq!(received.text_body().as_deref(), Some("café line continues"));
        assert_eq!(received.html_body().as_deref(), Some("<p>hi</p>"));
    }
}

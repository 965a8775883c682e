//! The control socket of a training process: `control.sock` in the run folder, mode
//! 0600. Any number of front ends attach; each gets the history, then the live events,
//! and may send commands, which reach the engine in the order they arrive.
//!
//! It runs on its own thread with a small tokio runtime, so a slow or stuck client never
//! holds up the engine: the engine hands events to the hub without waiting (see `hub`).
use super::hub::Hub;
use super::socket_path::with_socket_path;
use super::wire::{parse_command, ServerMessage};
use crate::protocol::Command;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// A command line longer than this is refused (and the client let go).
const MAX_LINE: u64 = 64 * 1024;
/// How long the end of a run waits for clients to take their last events.
const DRAIN: Duration = Duration::from_secs(2);

/// Binds `path` for the user alone. A socket file left by a dead trainer is replaced;
/// the caller holds the run's lock, so no live trainer owns it.
pub fn bind(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    let annotate =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(annotate(e)),
    }
    let listener =
        with_socket_path(path, |p| std::os::unix::net::UnixListener::bind(p)).map_err(annotate)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(annotate)?;
    listener.set_nonblocking(true).map_err(annotate)?;
    Ok(listener)
}

/// The serving thread; stopped by [`Server::shutdown`] once the engine has ended.
pub struct Server {
    path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(
        listener: std::os::unix::net::UnixListener,
        path: PathBuf,
        hub: Arc<Hub>,
        commands: Sender<Command>,
        hello: ServerMessage,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel();
        let hello = hello.to_line();
        let thread = std::thread::Builder::new()
            .name("rifle-socket".into())
            .spawn(move || {
                runtime.block_on(accept_loop(listener, hub, commands, hello, stopped))
            })?;
        Ok(Self {
            path,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Lets attached clients take the last events, then closes the socket.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_now();
    }
}

async fn accept_loop(
    listener: std::os::unix::net::UnixListener,
    hub: Arc<Hub>,
    commands: Sender<Command>,
    hello: String,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = UnixListener::from_std(listener) else {
        return;
    };
    let mut clients = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    clients.spawn(serve_client(stream, hub.clone(), commands.clone(), hello.clone()));
                }
                // Out of file descriptors and the like: wait, never spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            },
            Some(_) = clients.join_next(), if !clients.is_empty() => {}
        }
    }
    drop(listener);
    hub.close();
    let _ = tokio::time::timeout(DRAIN, async {
        while clients.join_next().await.is_some() {}
    })
    .await;
    clients.abort_all();
}

/// One attached front end: hello, history, `live`, then events and replies as they come.
async fn serve_client(stream: UnixStream, hub: Arc<Hub>, commands: Sender<Command>, hello: String) {
    let (read, write) = stream.into_split();
    let joined = hub.clone();
    // Reading the history takes the hub's lock: off the async thread.
    let Ok(sub) = tokio::task::spawn_blocking(move || joined.subscribe()).await else {
        return;
    };
    let (reply_tx, replies) = mpsc::channel(64);
    let reader = tokio::spawn(read_commands(read, commands, reply_tx));
    let _ = write_feed(write, hub, hello, sub, replies).await;
    reader.abort();
}

async fn write_feed(
    write: OwnedWriteHalf,
    hub: Arc<Hub>,
    hello: String,
    sub: super::hub::Subscription,
    mut replies: mpsc::Receiver<String>,
) -> std::io::Result<()> {
    let mut out = BufWriter::new(write);
    out.write_all(hello.as_bytes()).await?;
    for event in sub.history {
        out.write_all(ServerMessage::Event { event }.to_line().as_bytes())
            .await?;
    }
    for message in sub.problems {
        out.write_all(ServerMessage::Error { message }.to_line().as_bytes())
            .await?;
    }
    out.write_all(ServerMessage::Live.to_line().as_bytes())
        .await?;
    out.flush().await?;
    let mut live = sub.live;
    let mut replies_open = true;
    loop {
        tokio::select! {
            line = live.recv() => match line {
                Some(line) => out.write_all(line.as_bytes()).await?,
                None => {
                    if !hub.is_closed() {
                        let message = "this client fell too far behind the run and was let go; \
                                       attach again".to_string();
                        out.write_all(ServerMessage::Error { message }.to_line().as_bytes()).await?;
                    }
                    break;
                }
            },
            reply = replies.recv(), if replies_open => match reply {
                Some(line) => out.write_all(line.as_bytes()).await?,
                // The client sends no more; it may still read.
                None => replies_open = false,
            },
        }
        // Write what else is ready before flushing: one syscall for a burst.
        while let Ok(line) = live.try_recv() {
            out.write_all(line.as_bytes()).await?;
        }
        out.flush().await?;
    }
    out.flush().await?;
    out.shutdown().await
}

/// Command lines in, each answered: `accepted` once passed to the engine, or `error`.
async fn read_commands(
    read: OwnedReadHalf,
    commands: Sender<Command>,
    replies: mpsc::Sender<String>,
) {
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = match (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(n) => n,
            Err(_) => return,
        };
        if n == 0 {
            return;
        }
        if !line.ends_with(b"\n") && n as u64 == MAX_LINE {
            let message = format!("a command line is at most {MAX_LINE} bytes; closing");
            let _ = replies
                .send(ServerMessage::Error { message }.to_line())
                .await;
            return;
        }
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        let reply = match parse_command(&text) {
            Ok(command) => match commands.send(command.clone()) {
                Ok(()) => ServerMessage::Accepted { command },
                Err(_) => ServerMessage::Error {
                    message: "the run has ended; it takes no more commands".into(),
                },
            },
            Err(message) => ServerMessage::Error { message },
        };
        if replies.send(reply.to_line()).await.is_err() {
            return;
        }
    }
}

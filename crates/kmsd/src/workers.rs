//! The connection workers of `kmsd serve`: one OS thread per worker, each running its own
//! single-threaded tokio runtime, each owning the connections handed to it.
//!
//! Why not one work-stealing runtime: a KMS request is a few microseconds of CPU, so the
//! cost that matters is moving work between threads. With work stealing, a readiness event
//! on one worker often wakes another (futex wake + wait per request in the profiles of
//! BENCHMARKS.md). Here a connection lives on one thread from accept to close; the only
//! cross-thread hand-offs are the accept itself (once per connection) and, when syncs are
//! slow, the audit log's group commit ([`ThreadHooks`] lets the server give each worker its
//! own audit batch, written when the worker is about to park). Operations that may block (store commits) still go to the runtime's
//! blocking pool, so a slow commit never stalls the worker's other connections.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, watch};

/// An accepted connection on its way to a worker.
pub struct Accepted {
    pub stream: std::net::TcpStream,
    pub peer: SocketAddr,
}

/// What a worker runs for each connection it is given.
pub type ConnectionFn = std::sync::Arc<dyn Fn(tokio::net::TcpStream, SocketAddr) + Send + Sync>;

/// What runs on every worker thread besides its connections.
pub trait ThreadHooks: Send + Sync + 'static {
    /// On the worker thread, before its runtime starts.
    fn started(&self) {}
    /// On the worker thread, each time its runtime has nothing left to run and is about to
    /// wait for I/O or timers.
    fn before_park(&self) {}
    /// On the worker thread, after its runtime stopped running connections.
    fn stopping(&self) {}
}

/// The running workers.
pub struct Workers {
    intake: Vec<mpsc::UnboundedSender<Accepted>>,
    next: usize,
    stop: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Start `count` workers (at least one). `on_connection` is called on the worker's
    /// runtime (so it may `tokio::spawn`) for every connection handed to that worker;
    /// `hooks` run on every worker thread.
    pub fn start(
        count: usize,
        on_connection: ConnectionFn,
        hooks: std::sync::Arc<dyn ThreadHooks>,
    ) -> std::io::Result<Workers> {
        let (stop, stop_rx) = watch::channel(false);
        let mut intake = Vec::new();
        let mut threads = Vec::new();
        for i in 0..count.max(1) {
            let park_hooks = hooks.clone();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name(format!("kmsd-blocking-{i}"))
                .on_thread_park(move || park_hooks.before_park())
                .build()?;
            let hooks = hooks.clone();
            let (tx, rx) = mpsc::unbounded_channel::<Accepted>();
            let on_connection = on_connection.clone();
            let mut stop_rx = stop_rx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("kmsd-worker-{i}"))
                .spawn(move || {
                    hooks.started();
                    runtime.block_on(async move {
                        tokio::spawn(take_connections(rx, on_connection));
                        // Runs until told to stop: the server decides when draining is over.
                        while !*stop_rx.borrow_and_update() {
                            if stop_rx.changed().await.is_err() {
                                break;
                            }
                        }
                    });
                    hooks.stopping();
                })?;
            intake.push(tx);
            threads.push(thread);
        }
        Ok(Workers {
            intake,
            next: 0,
            stop,
            threads,
        })
    }

    /// Hand a connection to the next worker (round robin).
    pub fn dispatch(&mut self, conn: Accepted) {
        let n = self.intake.len();
        let mut conn = conn;
        for _ in 0..n {
            let i = self.next % n;
            self.next = self.next.wrapping_add(1);
            match self.intake[i].send(conn) {
                Ok(()) => return,
                // That worker is gone (only a panic ends one early): try the next.
                Err(mpsc::error::SendError(c)) => {
                    tracing::error!(worker = i, "worker is not running");
                    conn = c;
                }
            }
        }
        tracing::error!(peer = %conn.peer, "no worker is running; connection dropped");
    }

    /// Take no more connections. Each worker then drops its `on_connection` (and whatever
    /// it holds) once the connections already handed over are started.
    pub fn close_intake(&mut self) {
        self.intake.clear();
    }

    /// Stop the workers (their remaining connections are dropped) and wait for them.
    pub fn stop(mut self) {
        self.close_intake();
        let _ = self.stop.send(true);
        for t in self.threads {
            if t.join().is_err() {
                tracing::error!("a worker thread panicked");
            }
        }
    }
}

async fn take_connections(mut rx: mpsc::UnboundedReceiver<Accepted>, on_connection: ConnectionFn) {
    while let Some(Accepted { stream, peer }) = rx.recv().await {
        match tokio::net::TcpStream::from_std(stream) {
            Ok(s) => on_connection(s, peer),
            Err(e) => tracing::warn!(error = %e, %peer, "cannot register connection"),
        }
    }
}

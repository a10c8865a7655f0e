//! A coarse timer for hyper's connection timeouts (the time a client may take to send its
//! request headers).
//!
//! Why not tokio's timer: hyper arms the header timeout for every request on a keep-alive
//! connection and drops it when the headers arrive, so a busy server inserts into and
//! removes from tokio's timer wheel (under its lock) once per request, and an insertion
//! that becomes the earliest deadline wakes the runtime's driver through its eventfd
//! (measured: ~0.3 extra `write(2)` + wake-up per request). These timeouts are 30 s long
//! and almost never fire, so precision does not matter: here a sleep is a slot in a
//! registry of the thread that made it, and one sweeper thread wakes the sleeps whose
//! deadline has passed every [`SWEEP_EVERY`]. A sleep therefore ends between its deadline
//! and one sweep later; it never ends early.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How often expired sleeps are woken.
pub const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// The [`hyper::rt::Timer`] of kmsd's connections.
#[derive(Clone, Copy, Debug, Default)]
pub struct CoarseTimer;

impl hyper::rt::Timer for CoarseTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let deadline = Instant::now()
            .checked_add(duration)
            .unwrap_or_else(far_future);
        self.sleep_until(deadline)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(CoarseSleep::until(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<CoarseSleep>() {
            Some(mut s) => s.as_mut().get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

fn far_future() -> Instant {
    // About 30 years: "never" for a connection timeout.
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// One pending sleep in a registry.
struct Slot {
    deadline: Instant,
    /// Taken when the sweeper wakes it.
    waker: Option<Waker>,
}

/// The sleeps made on one thread (each thread has its own, so registering and dropping a
/// sleep takes an uncontended lock).
#[derive(Default)]
struct Registry {
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    entries: Vec<Option<Slot>>,
    free: Vec<usize>,
}

impl Slots {
    fn insert(&mut self, slot: Slot) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.entries[i] = Some(slot);
                i
            }
            None => {
                self.entries.push(Some(slot));
                self.entries.len() - 1
            }
        }
    }

    fn remove(&mut self, i: usize) {
        if let Some(e) = self.entries.get_mut(i) {
            if e.take().is_some() {
                self.free.push(i);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }
}

thread_local! {
    static THIS_THREAD: Arc<Registry> = new_registry();
}

/// Every live registry, for the sweeper.
fn registries() -> &'static Mutex<Vec<Weak<Registry>>> {
    static ALL: OnceLock<Mutex<Vec<Weak<Registry>>>> = OnceLock::new();
    ALL.get_or_init(|| {
        // The sweeper starts with the first registry; if the thread cannot be started,
        // sleeps still end when they are next polled after their deadline.
        if let Err(e) = std::thread::Builder::new()
            .name("kmsd-timer".into())
            .spawn(sweep_forever)
        {
            tracing::error!(error = %e, "cannot start the connection timer thread");
        }
        Mutex::new(Vec::new())
    })
}

fn new_registry() -> Arc<Registry> {
    let r = Arc::new(Registry::default());
    registries().lock().push(Arc::downgrade(&r));
    r
}

fn sweep_forever() {
    loop {
        std::thread::sleep(SWEEP_EVERY);
        sweep(Instant::now());
    }
}

/// Wake every sleep whose deadline is at or before `now`.
fn sweep(now: Instant) {
    let live: Vec<Arc<Registry>> = {
        let mut all = registries().lock();
        all.retain(|w| w.strong_count() > 0);
        all.iter().filter_map(Weak::upgrade).collect()
    };
    let mut due = Vec::new();
    for r in live {
        {
            let mut slots = r.slots.lock();
            for slot in slots.entries.iter_mut().flatten() {
                if slot.deadline <= now {
                    if let Some(w) = slot.waker.take() {
                        due.push(w);
                    }
                }
            }
        }
        // Woken outside the lock: a wake may run code that drops a sleep.
        for w in due.drain(..) {
            w.wake();
        }
    }
}

/// A sleep until a deadline, ended by the sweeper (or by a poll after the deadline).
pub struct CoarseSleep {
    deadline: Instant,
    registry: Arc<Registry>,
    slot: Option<usize>,
}

impl CoarseSleep {
    fn until(deadline: Instant) -> CoarseSleep {
        CoarseSleep {
            deadline,
            registry: THIS_THREAD.with(Arc::clone),
            slot: None,
        }
    }

    fn reset(&mut self, deadline: Instant) {
        self.deregister();
        self.deadline = deadline;
    }

    fn deregister(&mut self) {
        if let Some(i) = self.slot.take() {
            self.registry.slots.lock().remove(i);
        }
    }
}

impl Future for CoarseSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.deadline {
            this.deregister();
            return Poll::Ready(());
        }
        let mut slots = this.registry.slots.lock();
        match this.slot.and_then(|i| slots.entries.get_mut(i)?.as_mut()) {
            Some(slot) => match &slot.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => slot.waker = Some(cx.waker().clone()),
            },
            None => {
                let i = slots.insert(Slot {
                    deadline: this.deadline,
                    waker: Some(cx.waker().clone()),
                });
                this.slot = Some(i);
            }
        }
        Poll::Pending
    }
}

impl hyper::rt::Sleep for CoarseSleep {}

impl Drop for CoarseSleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn registered_here() -> usize {
        THIS_THREAD.with(|r| r.slots.lock().len())
    }

    #[test]
    fn a_past_deadline_is_ready_at_once() {
        rt().block_on(async {
            CoarseTimer.sleep(Duration::ZERO).await;
            CoarseTimer
                .sleep_until(Instant::now() - Duration::from_secs(1))
                .await;
        });
        assert_eq!(registered_here(), 0);
    }

    #[test]
    fn a_sleep_ends_after_its_deadline_woken_by_the_sweeper() {
        let deadline = Instant::now() + Duration::from_millis(300);
        let ended = rt().block_on(async {
            // Generous bound: this checks the sleep is woken at all, not how fast.
            tokio::time::timeout(Duration::from_secs(20), CoarseTimer.sleep_until(deadline))
                .await
                .is_ok()
        });
        assert!(ended, "the sweeper never woke the sleep");
        assert!(Instant::now() >= deadline, "ended before its deadline");
        assert_eq!(registered_here(), 0);
    }

    #[test]
    fn dropped_and_reset_sleeps_leave_no_slot() {
        rt().block_on(async {
            let mut sleeps: Vec<_> = (0..100)
                .map(|_| CoarseTimer.sleep(Duration::from_secs(60)))
                .collect();
            for s in &mut sleeps {
                // Poll once: registers.
                assert!(futures_poll_once(s.as_mut()).await.is_pending());
            }
            assert_eq!(registered_here(), 100);
            for s in sleeps.iter_mut().take(50) {
                CoarseTimer.reset(s, Instant::now() - Duration::from_secs(1));
            }
            assert_eq!(registered_here(), 50);
            for s in sleeps.iter_mut().take(50) {
                s.as_mut().await;
            }
            drop(sleeps);
            assert_eq!(registered_here(), 0);
        });
    }

    async fn futures_poll_once(s: Pin<&mut dyn hyper::rt::Sleep>) -> Poll<()> {
        let mut s = Some(s);
        std::future::poll_fn(|cx| {
            let p = s.as_mut().map_or(Poll::Ready(()), |s| s.as_mut().poll(cx));
            Poll::Ready(p)
        })
        .await
    }

    /// The timer as hyper uses it: a client that sends part of its headers and stops is
    /// disconnected after the header timeout.
    #[test]
    fn hyper_closes_a_connection_whose_headers_do_not_arrive() {
        use hyper::server::conn::http1;
        use hyper_util::rt::TokioIo;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        rt().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(b"ok")),
                    ))
                });
                http1::Builder::new()
                    .timer(CoarseTimer)
                    .header_read_timeout(Duration::from_millis(500))
                    .serve_connection(TokioIo::new(stream), svc)
                    .await
            });
            let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
            // A whole request first: answered, and the connection stays open.
            client
                .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buf = vec![0u8; 1024];
            let n = client.read(&mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
            // Then half a request, and silence.
            let started = Instant::now();
            client.write_all(b"GET / HTTP/1.1\r\nho").await.unwrap();
            let closed = tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    match client.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            })
            .await;
            assert!(closed.is_ok(), "connection still open after 20 s");
            assert!(started.elapsed() >= Duration::from_millis(500));
            let res = server.await.unwrap();
            assert!(
                res.is_err(),
                "hyper should end the connection with a timeout"
            );
        });
    }
}

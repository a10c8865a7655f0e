//! Group commit: concurrent `commit` callers are batched into one redb write
//! transaction and one fsync.
//!
//! A caller enqueues its mutations with a ticket. If no leader is writing, it
//! becomes the leader: it takes the whole queue, applies it in one
//! transaction, commits durably, publishes the result for every ticket in the
//! batch and wakes the others. A caller returns only once the batch holding
//! its own ticket has been committed (or has failed), so "`Ok` means durable"
//! holds per call. Batches apply callers in enqueue order, which is a valid
//! serial order of the individual commits.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use kmsd_core::store::Mutation;
use parking_lot::{Condvar, Mutex};

/// One caller's mutations.
pub(crate) struct Pending {
    pub(crate) ticket: u64,
    pub(crate) mutations: Vec<Mutation>,
}

#[derive(Default)]
struct State {
    next_ticket: u64,
    queue: Vec<Pending>,
    leader: bool,
    done: HashMap<u64, Result<(), String>>,
}

#[derive(Default)]
pub(crate) struct Group {
    state: Mutex<State>,
    wake: Condvar,
}

impl Group {
    /// Submit `mutations`; `write` is called (by whichever caller leads) with a
    /// batch and must make it durable. Returns this caller's outcome.
    pub(crate) fn submit(
        &self,
        mutations: &[Mutation],
        write: &dyn Fn(&[Pending]) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut st = self.state.lock();
        let ticket = st.next_ticket;
        st.next_ticket = st.next_ticket.wrapping_add(1);
        st.queue.push(Pending {
            ticket,
            mutations: mutations.to_vec(),
        });
        loop {
            if let Some(r) = st.done.remove(&ticket) {
                return r;
            }
            if st.leader {
                self.wake.wait(&mut st);
                continue;
            }
            st.leader = true;
            let batch = std::mem::take(&mut st.queue);
            drop(st);
            let r = catch_unwind(AssertUnwindSafe(|| write(&batch)))
                .unwrap_or_else(|_| Err("internal error while committing to the store".into()));
            st = self.state.lock();
            for p in &batch {
                st.done.insert(p.ticket, r.clone());
            }
            st.leader = false;
            self.wake.notify_all();
        }
    }
}

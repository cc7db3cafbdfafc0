//! The control thread's event loop (event-manager): waits for the guest's end,
//! signalled by a vCPU through an eventfd, for the `--timeout` timer, or for
//! the lockup detector (`watchdog`) to find a CPU locked up, which it asks
//! once a second.

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use event_manager::{EventManager, EventOps, Events, MutEventSubscriber, SubscriberOps};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::eventfd::EventFd;
use vmm_sys_util::timerfd::TimerFd;

use crate::error::{Error, Result};
use crate::watchdog::Lockup;

/// Why the loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    GuestEnded,
    TimedOut,
    LockedUp(Lockup),
}

/// The lockup detector's look: `Some` ends the loop.
pub type Check = Box<dyn FnMut() -> Option<Lockup>>;

/// A check made every `period` while the guest runs.
pub struct Watch {
    pub period: Duration,
    pub check: Check,
}

struct Monitor {
    exit_evt: EventFd,
    timer: Option<TimerFd>,
    watch: Option<(TimerFd, Check)>,
    wake: Rc<Cell<Option<Wake>>>,
}

impl MutEventSubscriber for Monitor {
    fn init(&mut self, ops: &mut EventOps) {
        ops.add(Events::new(&self.exit_evt, EventSet::IN)).expect("watching the exit eventfd");
        if let Some(t) = &self.timer {
            ops.add(Events::new(t, EventSet::IN)).expect("watching the timeout timer");
        }
        if let Some((t, _)) = &self.watch {
            ops.add(Events::new(t, EventSet::IN)).expect("watching the lockup timer");
        }
    }

    fn process(&mut self, events: Events, _ops: &mut EventOps) {
        if events.fd() == self.exit_evt.as_raw_fd() {
            let _ = self.exit_evt.read();
            self.wake.set(Some(Wake::GuestEnded));
        } else if let Some((t, check)) =
            self.watch.as_mut().filter(|(t, _)| t.as_raw_fd() == events.fd())
        {
            let _ = t.wait();
            if let (None, Some(l)) = (self.wake.get(), check()) {
                self.wake.set(Some(Wake::LockedUp(l)));
            }
        } else if let Some(t) = &mut self.timer {
            let _ = t.wait();
            if self.wake.get().is_none() {
                self.wake.set(Some(Wake::TimedOut));
            }
        }
    }
}

/// Block until the guest ends, `timeout` passes, or `watch` finds a lockup,
/// whichever comes first.
pub fn run_until_exit(
    exit_evt: &EventFd,
    timeout: Option<Duration>,
    watch: Option<Watch>,
) -> Result<Wake> {
    let err = |e: &dyn std::fmt::Debug| Error::EventLoop(format!("{e:?}"));
    let timer = |first: Duration, every: Option<Duration>| -> Result<TimerFd> {
        let mut timer = TimerFd::new().map_err(|e| err(&e))?;
        timer.reset(first.max(Duration::from_millis(1)), every).map_err(|e| err(&e))?;
        Ok(timer)
    };
    let timer_fd = timeout.map(|t| timer(t, None)).transpose()?;
    let watch = match watch {
        Some(w) => Some((timer(w.period, Some(w.period))?, w.check)),
        None => None,
    };
    let wake = Rc::new(Cell::new(None));
    let monitor = Monitor {
        exit_evt: exit_evt.try_clone().map_err(|e| err(&e))?,
        timer: timer_fd,
        watch,
        wake: wake.clone(),
    };
    let mut em = EventManager::<Box<dyn MutEventSubscriber>>::new().map_err(|e| err(&e))?;
    em.add_subscriber(Box::new(monitor));
    loop {
        em.run().map_err(|e| err(&e))?;
        if let Some(w) = wake.get() {
            return Ok(w);
        }
    }
}

//! The control thread's event loop (event-manager): waits for the guest's end,
//! signalled by a vCPU through an eventfd, or for the `--timeout` timer.

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use event_manager::{EventManager, EventOps, Events, MutEventSubscriber, SubscriberOps};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::eventfd::EventFd;
use vmm_sys_util::timerfd::TimerFd;

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    GuestEnded,
    TimedOut,
}

struct Monitor {
    exit_evt: EventFd,
    timer: Option<TimerFd>,
    wake: Rc<Cell<Option<Wake>>>,
}

impl MutEventSubscriber for Monitor {
    fn init(&mut self, ops: &mut EventOps) {
        ops.add(Events::new(&self.exit_evt, EventSet::IN)).expect("watching the exit eventfd");
        if let Some(t) = &self.timer {
            ops.add(Events::new(t, EventSet::IN)).expect("watching the timeout timer");
        }
    }

    fn process(&mut self, events: Events, _ops: &mut EventOps) {
        if events.fd() == self.exit_evt.as_raw_fd() {
            let _ = self.exit_evt.read();
            self.wake.set(Some(Wake::GuestEnded));
        } else if let Some(t) = &mut self.timer {
            let _ = t.wait();
            if self.wake.get().is_none() {
                self.wake.set(Some(Wake::TimedOut));
            }
        }
    }
}

/// Block until the guest ends (false) or `timeout` passes first (true).
pub fn run_until_exit(exit_evt: &EventFd, timeout: Option<Duration>) -> Result<bool> {
    let err = |e: &dyn std::fmt::Debug| Error::EventLoop(format!("{e:?}"));
    let timer = match timeout {
        Some(t) => {
            let mut timer = TimerFd::new().map_err(|e| err(&e))?;
            timer.reset(t.max(Duration::from_millis(1)), None).map_err(|e| err(&e))?;
            Some(timer)
        }
        None => None,
    };
    let wake = Rc::new(Cell::new(None));
    let monitor =
        Monitor { exit_evt: exit_evt.try_clone().map_err(|e| err(&e))?, timer, wake: wake.clone() };
    let mut em = EventManager::<Box<dyn MutEventSubscriber>>::new().map_err(|e| err(&e))?;
    em.add_subscriber(Box::new(monitor));
    loop {
        em.run().map_err(|e| err(&e))?;
        if let Some(w) = wake.get() {
            return Ok(w == Wake::TimedOut);
        }
    }
}

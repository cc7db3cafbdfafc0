//! A process's signal handlers (Linux `struct sighand_struct`; `copy_sighand`
//! in `kernel/fork.c`, `flush_signal_handlers` in `kernel/signal.c`).

use alloc::sync::Arc;

use uapi::signal::{sigaction, SIG_DFL, SIG_IGN};

/// Signal handlers, shared by CLONE_SIGHAND (Linux `struct sighand_struct`).
pub struct SigHand {
    /// One action per signal (0 unused); `None` while every action is
    /// SIG_DFL with no flags, as in a new process, which then needs no
    /// table (Linux's `init_sighand` is static data). A fork without
    /// CLONE_SIGHAND gives the child a table equal to its parent's (Linux's
    /// `memcpy` in `copy_sighand`); here the two share the 2 KiB until one
    /// of them changes an action, which copies it first (`Arc::make_mut`).
    /// Where ring 0 is emulated that copy, or zeroing a new table, is a
    /// `rep movs`/`rep stos` of 260 words, each about as slow as an
    /// instruction, and most children never change an action (an exec that
    /// has no handler to reset changes none).
    actions: spin::Mutex<Option<Arc<[sigaction; 65]>>>,
}

impl SigHand {
    /// Every action SIG_DFL.
    pub fn new() -> Self {
        Self { actions: spin::Mutex::new(None) }
    }

    /// The child's handlers after a fork without CLONE_SIGHAND: its own
    /// table, equal to this one.
    pub fn duplicate(&self) -> Self {
        Self { actions: spin::Mutex::new(self.actions.lock().clone()) }
    }

    /// Linux `flush_signal_handlers(t, 0)` (exec, `CLONE_CLEAR_SIGHAND`):
    /// handled signals go back to SIG_DFL, ignored ones stay ignored, and
    /// every action loses its flags, restorer and mask. A table that is
    /// already so stays as it is (and shared, if it is); one left all
    /// SIG_DFL is dropped.
    pub fn flush_handlers(&self) {
        let flushed = |a: &sigaction| {
            let handler = if a.sa_handler == SIG_IGN { SIG_IGN } else { SIG_DFL };
            sigaction { sa_handler: handler, ..Default::default() }
        };
        let mut actions = self.actions.lock();
        let Some(table) = actions.as_mut() else { return };
        if table.iter().all(|a| a.sa_handler != SIG_IGN) {
            *actions = None;
        } else if table.iter().any(|a| *a != flushed(a)) {
            for a in Arc::make_mut(table).iter_mut() {
                *a = flushed(a);
            }
        }
    }

    pub fn action(&self, sig: u32) -> sigaction {
        self.actions.lock().as_ref().map_or_else(sigaction::default, |t| t[sig as usize])
    }

    /// [`Self::action`] without waiting for the lock (`None` if it is held).
    pub fn try_action(&self, sig: u32) -> Option<sigaction> {
        Some(self.actions.try_lock()?.as_ref().map_or_else(sigaction::default, |t| t[sig as usize]))
    }

    pub fn set_action(&self, sig: u32, action: sigaction) {
        self.update_action(sig, |a| *a = action);
    }

    /// Change `sig`'s action with `f` under the lock; a table is made, or a
    /// shared one copied, only if `f` changed the action.
    pub fn update_action<R>(&self, sig: u32, f: impl FnOnce(&mut sigaction) -> R) -> R {
        let mut actions = self.actions.lock();
        let old = actions.as_ref().map_or_else(sigaction::default, |t| t[sig as usize]);
        let mut new = old;
        let r = f(&mut new);
        if new != old {
            let table = actions.get_or_insert_with(|| Arc::new([sigaction::default(); 65]));
            Arc::make_mut(table)[sig as usize] = new;
        }
        r
    }

    /// The whole table as it is now (a reference, not a copy; `None`: every
    /// action SIG_DFL).
    pub fn snapshot(&self) -> Option<Arc<[sigaction; 65]>> {
        self.actions.lock().clone()
    }
}

impl Default for SigHand {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(h: usize) -> sigaction {
        sigaction { sa_handler: h, sa_flags: 4, sa_restorer: 0x1000, sa_mask: 2 }
    }

    fn shared(a: &SigHand, b: &SigHand) -> bool {
        match (a.snapshot(), b.snapshot()) {
            (Some(x), Some(y)) => Arc::ptr_eq(&x, &y),
            _ => false,
        }
    }

    #[test]
    fn a_new_table_is_all_default_and_not_allocated() {
        let h = SigHand::new();
        assert!(h.snapshot().is_none());
        assert_eq!(h.action(10), sigaction::default());
        // Setting the default changes nothing, so makes no table.
        h.set_action(10, sigaction::default());
        assert!(h.snapshot().is_none());
        h.set_action(10, handler(0x4000));
        assert_eq!(h.action(10), handler(0x4000));
        assert_eq!(h.try_action(10), Some(handler(0x4000)));
        assert_eq!(h.action(12), sigaction::default());
    }

    #[test]
    fn a_fork_shares_the_table_until_either_side_changes_it() {
        let parent = SigHand::new();
        parent.set_action(10, handler(0x4000));
        let child = parent.duplicate();
        assert!(shared(&parent, &child), "no copy at the fork");
        child.set_action(12, handler(0x5000));
        assert!(!shared(&parent, &child), "the change copied the table");
        assert_eq!(parent.action(12), sigaction::default());
        assert_eq!(child.action(12), handler(0x5000));
        assert_eq!(child.action(10), handler(0x4000));
        // And the other way round.
        let child2 = parent.duplicate();
        parent.update_action(10, |a| a.sa_handler = SIG_IGN);
        assert_eq!(child2.action(10), handler(0x4000));
        assert_eq!(parent.action(10).sa_handler, SIG_IGN);
        // An update that changes nothing copies nothing.
        let child3 = parent.duplicate();
        let seen = child3.update_action(10, |a| a.sa_handler);
        assert_eq!(seen, SIG_IGN);
        assert!(shared(&parent, &child3));
    }

    #[test]
    fn flush_resets_handlers_keeps_ignored_and_copies_only_on_change() {
        let h = SigHand::new();
        h.set_action(10, handler(0x4000));
        h.set_action(12, sigaction { sa_handler: SIG_IGN, sa_flags: 4, ..Default::default() });
        let child = h.duplicate();
        child.flush_handlers();
        assert_eq!(child.action(10), sigaction::default());
        assert_eq!(child.action(12), sigaction { sa_handler: SIG_IGN, ..Default::default() });
        assert_eq!(h.action(10), handler(0x4000), "the parent's table is untouched");
        // Flushed already: a second flush (an exec after another) keeps sharing.
        let grandchild = child.duplicate();
        grandchild.flush_handlers();
        assert!(shared(&child, &grandchild));
        // Nothing ignored: the flushed table is all default and dropped.
        let only_handled = SigHand::new();
        only_handled.set_action(10, handler(0x4000));
        only_handled.flush_handlers();
        assert!(only_handled.snapshot().is_none());
        let none = SigHand::new();
        none.flush_handlers();
        assert!(none.snapshot().is_none());
    }
}

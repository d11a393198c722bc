//! What the current thread is working on, for live displays. A batch worker installs a
//! [`Slot`] on its thread; the code it runs names its stage with [`set`] (the model manager
//! before each model call, the repository test runner before each sandbox run, the batch
//! solver before a checkout). A thread without a slot (`run`, `fix`, tests) pays one
//! thread-local lookup and nothing is shown.

use std::cell::RefCell;
use std::sync::Arc;

/// Where a thread's stage goes (e.g. a progress line's message).
#[derive(Clone)]
pub struct Slot(Arc<dyn Fn(&str) + Send + Sync>);

impl Slot {
    pub fn new(sink: impl Fn(&str) + Send + Sync + 'static) -> Slot {
        Slot(Arc::new(sink))
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slot")
    }
}

thread_local! {
    static SLOT: RefCell<Option<Slot>> = const { RefCell::new(None) };
}

/// Install `slot` on this thread (`None` removes it); returns the previous one.
pub fn install(slot: Option<Slot>) -> Option<Slot> {
    SLOT.with(|s| std::mem::replace(&mut *s.borrow_mut(), slot))
}

/// Name this thread's current stage (shown where a slot is installed).
pub fn set(stage: &str) {
    SLOT.with(|s| {
        if let Some(slot) = s.borrow().as_ref() {
            (slot.0)(stage);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn stages_reach_the_slot_of_their_own_thread_only() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let log = seen.clone();
        set("before any slot");
        install(Some(Slot::new(move |s| log.lock().unwrap().push(s.into()))));
        set("model: localizer");
        std::thread::spawn(|| set("another thread")).join().unwrap();
        set("tests: related tests");
        install(None);
        set("after");
        assert_eq!(
            *seen.lock().unwrap(),
            vec!["model: localizer", "tests: related tests"]
        );
    }
}

//! A model that reports to a [`ProgressSink`]: the start of each generation, its text (as the
//! backend streams it, or whole from a backend that does not), and its end with tokens and
//! seconds. The [`super::ModelManager`] wraps every model it hands out in one when a sink is
//! set, so agents need not know about progress.
//!
//! [`ProgressSink`]: crate::progress::ProgressSink

use super::{EngineTimings, GenRequest, Generation, Model, ModelError};
use crate::progress::{Event, SharedSink};

pub struct Observed {
    inner: Box<dyn Model>,
    sink: SharedSink,
    /// The backend reports tokens itself.
    streams: bool,
}

impl Observed {
    pub fn new(mut inner: Box<dyn Model>, sink: SharedSink) -> Self {
        let streams = inner.set_progress(Some(sink.clone()));
        Self {
            inner,
            sink,
            streams,
        }
    }
}

impl Model for Observed {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn generate(&mut self, req: &GenRequest<'_>) -> Result<Generation, ModelError> {
        self.sink.event(&Event::GenerationStarted {
            agent: req.agent,
            model: self.inner.name(),
        });
        let started = std::time::Instant::now();
        let result = self.inner.generate(req);
        match &result {
            Ok(g) => {
                if !self.streams && !g.text.is_empty() {
                    self.sink.event(&Event::Token {
                        agent: req.agent,
                        text: &g.text,
                    });
                }
                self.sink.event(&Event::GenerationFinished {
                    agent: req.agent,
                    tokens: g.generated_tokens,
                    seconds: if g.generate_seconds > 0.0 {
                        g.generate_seconds
                    } else {
                        started.elapsed().as_secs_f64()
                    },
                    ok: true,
                });
            }
            Err(_) => self.sink.event(&Event::GenerationFinished {
                agent: req.agent,
                tokens: 0,
                seconds: started.elapsed().as_secs_f64(),
                ok: false,
            }),
        }
        result
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.inner.count_tokens(text)
    }

    fn n_ctx(&self) -> usize {
        self.inner.n_ctx()
    }

    fn engine_timings(&mut self) -> Option<EngineTimings> {
        self.inner.engine_timings()
    }

    fn reset_engine_timings(&mut self) {
        self.inner.reset_engine_timings()
    }

    fn set_progress(&mut self, sink: Option<SharedSink>) -> bool {
        self.inner.set_progress(sink)
    }

    fn clear_cache(&mut self) {
        self.inner.clear_cache()
    }
}

//! Stage 1, candidates: the greedy answer, one written against the requirement checklist,
//! sampled ones until enough agree; each static-checked with one re-ask; a later plan step's
//! extension.

use super::*;

impl Coordinator<'_, '_> {
    /// Add a candidate (a duplicate of an existing program is a vote for it); returns its index.
    pub(super) fn add_candidate(
        &mut self,
        code: &str,
        origin: &str,
        step: &mut StepRecord,
    ) -> usize {
        if let Some(i) = self
            .candidates
            .iter()
            .position(|c| same_program(&c.code, code))
        {
            self.candidates[i].duplicates += 1;
            step.notes.push(format!(
                "{origin} candidate duplicates candidate {}: one more vote",
                i + 1
            ));
            return i;
        }
        self.candidates.push(CandidateRecord {
            origin: origin.to_string(),
            duplicates: 0,
            static_findings: vec![],
            behaviour: None,
            examples: (0, 0),
            written: None,
            code: code.to_string(),
            profile: None,
        });
        self.candidates.len() - 1
    }

    /// Ask the CodeGenerator for one candidate; static-check it and re-ask once with the
    /// findings. `checklist` adds the requirements to the prompt; `k` > 0 samples.
    pub(super) fn new_candidate(
        &mut self,
        goal: &str,
        with_checklist: bool,
        k: usize,
        origin: &str,
        step: &mut StepRecord,
    ) -> Result<Option<usize>, AgentError> {
        self.crew.candidate = k as u32;
        let checklist = if with_checklist {
            self.checklist.clone()
        } else {
            String::new()
        };
        let reply = code_generator::generate(
            &mut self.crew,
            &CodeRequest {
                task: &self.task,
                goal,
                code: None,
                feedback: None,
                checklist: &checklist,
            },
        );
        self.crew.candidate = 0;
        let reply = reply?;
        absorb_reply(step, &reply);
        let Some(mut code) = reply.valid_code().map(str::to_string) else {
            step.notes.push(format!(
                "{origin} candidate: no valid Python after {} retries",
                reply.retries
            ));
            return Ok(None);
        };
        let mut findings = static_check::check(&code, &self.wanted);
        let first_findings = findings.clone();
        for _ in 0..self.crew.config.limits.static_fix_rounds {
            if findings.is_empty() {
                break;
            }
            let feedback = findings
                .iter()
                .map(|f| format!("- {f}"))
                .collect::<Vec<_>>()
                .join("\n");
            step.notes.push(format!(
                "{origin} candidate: static check: {}",
                findings.join("; ")
            ));
            let fixed = code_generator::generate(
                &mut self.crew,
                &CodeRequest {
                    task: &self.task,
                    goal: "",
                    code: Some(&code),
                    feedback: Some(&feedback),
                    checklist: &checklist,
                },
            )?;
            absorb_reply(step, &fixed);
            match fixed.valid_code() {
                Some(c) => {
                    code = c.to_string();
                    findings = static_check::check(&code, &self.wanted);
                }
                None => break,
            }
        }
        let i = self.add_candidate(&code, origin, step);
        if self.candidates[i].static_findings.is_empty() {
            self.candidates[i].static_findings = first_findings;
        }
        Ok(Some(i))
    }

    pub(super) fn generate(&mut self, goal: &str, step: &mut StepRecord) -> Result<(), AgentError> {
        let first = self.candidates.is_empty();
        if !first {
            return self.extend(goal, step);
        }
        // A plan with one code_generator step restates the task as its goal; the first
        // candidate is asked with the task alone (the same prompt as `eval --mode single`).
        let goal = if self.single_generation_step {
            ""
        } else {
            goal
        };
        self.new_candidate(goal, false, 0, "greedy", step)?;
        if self.runner.is_none() {
            step.verdict = format!("{} candidate(s)", self.candidates.len());
            self.chosen = (!self.candidates.is_empty()).then_some(0);
            return Ok(());
        }
        self.write_inputs(step)?;
        self.probe_all(step);
        // More candidates until they agree: the requirements prompt (greedy), then samples.
        let max = self.crew.config.limits.samples.max(2) as usize;
        let agree = self.crew.config.limits.agree_candidates.max(2) as usize;
        let mut asked = 1;
        while asked < max {
            if asked >= agree && self.agreed(agree) {
                step.notes.push(format!(
                    "stopped after {asked} candidates: they agree on every input"
                ));
                break;
            }
            // The requirements prompt differs from the first only with a checklist; without
            // one a greedy answer would repeat the first, so sample instead.
            let checklist = !self.checklist.is_empty();
            let origin = if asked == 1 && checklist {
                "requirements"
            } else {
                "sample"
            };
            let k = if asked == 1 && checklist {
                0
            } else {
                asked - 1 + usize::from(!checklist)
            };
            self.new_candidate(goal, true, k, origin, step)?;
            asked += 1;
            // The inputs are written against the first valid candidate's signatures.
            if !self.inputs_written {
                self.write_inputs(step)?;
            }
            self.probe_all(step);
        }
        self.select(step);
        step.verdict = format!(
            "{} candidate(s), {} behaviour(s), {} input(s)",
            self.candidates.len(),
            self.evidence.clusters.len(),
            self.inputs.len()
        );
        Ok(())
    }

    /// A later code_generator step extends the chosen solution; the result is one more
    /// candidate, judged by the same evidence.
    pub(super) fn extend(&mut self, goal: &str, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(code) = self.chosen_code() else {
            step.verdict = "skipped: no solution".into();
            return Ok(());
        };
        let reply = code_generator::generate(
            &mut self.crew,
            &CodeRequest {
                task: &self.task,
                goal,
                code: Some(&code),
                feedback: None,
                checklist: &self.checklist.clone(),
            },
        )?;
        absorb_reply(step, &reply);
        match reply.valid_code().map(str::to_string) {
            Some(new) => {
                let i = self.add_candidate(&new, "extension", step);
                self.probe_all(step);
                if self.runner.is_none() {
                    self.chosen = Some(i);
                } else {
                    self.select(step);
                }
                step.verdict = "extended solution".into();
            }
            None => step.verdict = "kept previous solution".into(),
        }
        Ok(())
    }

    pub(super) fn chosen_code(&self) -> Option<String> {
        self.chosen.map(|i| self.candidates[i].code.clone())
    }
}

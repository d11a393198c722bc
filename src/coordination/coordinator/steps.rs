//! Stage 3, the plan's other steps: written or pinned tests, the Debugger on supported
//! failures (then fresh samples), the Reviewer.

use super::*;

impl Coordinator<'_, '_> {
    pub(super) fn files(
        &self,
        code: &str,
        tests: Option<&str>,
    ) -> (Vec<(String, String)>, Vec<String>) {
        let mut files = vec![(SOLUTION_FILE.to_string(), code.to_string())];
        let mut test_files = vec![];
        if let Some(t) = tests {
            files.push((TESTS_FILE.to_string(), t.to_string()));
            test_files.push(TESTS_FILE.to_string());
        }
        if let Some(e) = &self.examples {
            files.push((EXAMPLES_FILE.to_string(), e.clone()));
            test_files.push(EXAMPLES_FILE.to_string());
        }
        (files, test_files)
    }

    /// Run the tests on `code`/`tests`; `None` without a runner or without any test file.
    pub(super) fn run_tests(
        &mut self,
        code: &str,
        tests: Option<&str>,
        label: &str,
    ) -> Option<TestRun> {
        let runner = self.runner?;
        let (files, test_files) = self.files(code, tests);
        if test_files.is_empty() {
            return None;
        }
        let mut run = match runner.run_tests(&files, &test_files) {
            Ok(r) => r,
            Err(e) => TestRun {
                status: format!("runner error: {e}"),
                output_tail: e,
                ..Default::default()
            },
        };
        run.label = label.to_string();
        tracing::info!(label, summary = %run.summary(), "tests");
        self.test_runs.push(run.clone());
        Some(run)
    }

    pub(super) fn write_tests(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(code) = self.chosen_code() else {
            step.verdict = "skipped: no solution to test".into();
            return Ok(());
        };
        // When the stated examples and agreeing candidates already settle the behaviour,
        // written assertions could only be suspect: the tests pin the agreed behaviour instead.
        if self.runner.is_some() && self.settled(&self.clusters()) {
            let usable = self.usable_inputs();
            let chosen = self.chosen.expect("has code");
            if let Some(p) = self.candidates[chosen].profile.as_ref() {
                if let Some(t) = behaviour::pinned_tests(&self.inputs, p, &usable) {
                    step.verdict = format!(
                        "{} test(s) pinned from the agreed behaviour (no model call needed)",
                        t.matches("\ndef test_").count()
                    );
                    self.tests = Some(t);
                    return Ok(());
                }
            }
        }
        let reply = test_writer::write(&mut self.crew, &self.task, &code)?;
        absorb_reply(step, &reply);
        match reply.valid_code() {
            Some(t) => {
                self.tests = Some(t.to_string());
                step.verdict = format!(
                    "{} test(s); evidence weighted by agreement",
                    crate::syntax::defined_names(t)
                        .iter()
                        .filter(|n| n.starts_with("test"))
                        .count()
                );
            }
            None => step.verdict = "no valid tests; the task's examples remain the judge".into(),
        }
        Ok(())
    }

    /// What the evidence supports as bugs in the chosen candidate: stated examples it fails,
    /// and internal errors or hangs on usable inputs that some other candidate handles.
    pub(super) fn supported_failures(&self) -> Vec<String> {
        let Some(i) = self.chosen else {
            return vec![];
        };
        let Some(p) = self.candidates[i].profile.as_ref() else {
            return vec![];
        };
        let usable = self.usable_inputs();
        let stated_errors: Vec<&str> = self
            .requirements
            .iter()
            .filter_map(|r| r.raises.as_deref())
            .collect();
        let mut out = vec![];
        for (k, input) in self.inputs.iter().enumerate() {
            let obs = &p.observations[k];
            let msg = &p.messages[k];
            if is_stated_check(&input.source) && p.matches[k] != Some(true) {
                let req = self.input_reqs[k].as_deref().unwrap_or("?");
                let quote = self
                    .requirements
                    .iter()
                    .find(|r| r.id == req)
                    .map(|r| cut_line(&r.quote, 120))
                    .unwrap_or_default();
                let expected = input.expected.as_deref().unwrap_or("?");
                out.push(format!(
                    "`{}` must {} (stated in the task, {req}: \"{quote}\"), but it {}{}",
                    input.code,
                    match expected.strip_prefix('!') {
                        Some(e) => format!("raise {e}"),
                        None => format!("return {expected}"),
                    },
                    describe(obs),
                    if msg.is_empty() {
                        String::new()
                    } else {
                        format!(": {msg}")
                    }
                ));
            } else if input.is_example() && p.matches[k] != Some(true) {
                out.push(format!(
                    "`{}` must be {} (stated in the task), but it {}{}",
                    input.code,
                    input.expected.as_deref().unwrap_or("?"),
                    describe(obs),
                    if msg.is_empty() {
                        String::new()
                    } else {
                        format!(": {msg}")
                    }
                ));
            } else if usable[k] && p.crashes().contains(&k) {
                if let Observation::Raised(e) = obs {
                    if stated_errors.contains(&e.as_str()) {
                        continue;
                    }
                }
                out.push(format!(
                    "`{}` {}{}",
                    input.code,
                    describe(obs),
                    if msg.is_empty() {
                        String::new()
                    } else {
                        format!(": {msg}")
                    }
                ));
            }
        }
        out
    }

    pub(super) fn debug(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(code) = self.chosen_code() else {
            step.verdict = "skipped: no solution".into();
            return Ok(());
        };
        if self.runner.is_none() {
            // Without a sandbox the Debugger works from review findings.
            let Some(findings) = self.findings.clone() else {
                step.verdict = "skipped: no test runner and no review findings".into();
                return Ok(());
            };
            let d = debugger::revise(
                &mut self.crew,
                &DebugRequest {
                    task: &self.task,
                    code: &code,
                    tests: self.tests.as_deref().unwrap_or(""),
                    failures: &findings,
                    side: Side::Code,
                    examples_pass: false,
                },
            )?;
            absorb_reply(step, &d);
            if let Some(new) = d.valid_code() {
                let i = self.add_candidate(new, "debugger", step);
                self.chosen = Some(i);
                self.changes.push(Change {
                    step: step.index,
                    by: AgentRole::Debugger,
                    side: Side::Code,
                    reason: "review findings".into(),
                });
                step.verdict = "fixed code from review findings".into();
            }
            return Ok(());
        }
        let rounds = self.crew.config.limits.debug_rounds;
        let mut fixes = 0;
        loop {
            let failures = self.supported_failures();
            if failures.is_empty() {
                step.verdict = if fixes == 0 {
                    "nothing the evidence supports to fix".into()
                } else {
                    format!("supported failures fixed after {fixes} fix(es)")
                };
                return Ok(());
            }
            if fixes == rounds {
                step.verdict = format!(
                    "{} supported failure(s) after {fixes} fix(es)",
                    failures.len()
                );
                return self.resample(step);
            }
            let code = self.chosen_code().expect("checked");
            let report = format!(
                "These behaviours are wrong (the task's stated examples, or crashes):\n{}",
                failures
                    .iter()
                    .map(|f| format!("- {f}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            let report = cut(&report, self.crew.config.limits.failure_report_chars);
            self.crew.candidate = fixes;
            let reply = debugger::revise(
                &mut self.crew,
                &DebugRequest {
                    task: &self.task,
                    code: &code,
                    tests: self.examples.as_deref().unwrap_or(""),
                    failures: &report,
                    side: Side::Code,
                    examples_pass: false,
                },
            );
            self.crew.candidate = 0;
            let reply = reply?;
            fixes += 1;
            absorb_reply(step, &reply);
            let Some(new) = reply.valid_code().map(str::to_string) else {
                step.notes.push(format!("fix {fixes}: no valid Python"));
                continue;
            };
            if same_program(&new, &code) {
                step.notes
                    .push(format!("fix {fixes}: the code came back unchanged"));
                continue;
            }
            let before = self.chosen;
            let i = self.add_candidate(&new, "debugger", step);
            self.probe_all(step);
            self.changes.push(Change {
                step: step.index,
                by: AgentRole::Debugger,
                side: Side::Code,
                reason: failures[0].clone(),
            });
            self.select(step);
            step.notes.push(format!(
                "fix {fixes}: candidate {}{}",
                i + 1,
                if self.chosen == before {
                    " did not beat the chosen one"
                } else {
                    " is now chosen"
                }
            ));
            if self.chosen == before {
                // Try the fix itself next round only if it is at least as good on examples.
                let (ok_new, _) = self.candidates[i].examples;
                let (ok_old, _) = before
                    .map(|b| self.candidates[b].examples)
                    .unwrap_or((0, 0));
                if ok_new > ok_old {
                    self.chosen = Some(i);
                }
            }
        }
    }

    /// Fresh sampled candidates (with the checklist) when debugging left supported failures.
    pub(super) fn resample(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let base = self.crew.config.limits.samples.max(2) as usize;
        for k in 1..=self.crew.config.limits.resample as usize {
            self.new_candidate("", true, base + k - 1, "resample", step)?;
            self.probe_all(step);
            self.select(step);
            if self.supported_failures().is_empty() {
                step.notes
                    .push(format!("resample {k}: the supported failures are gone"));
                break;
            }
        }
        Ok(())
    }

    pub(super) fn review(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(code) = self.chosen_code() else {
            step.verdict = "skipped: no solution".into();
            return Ok(());
        };
        let summary = self.behaviour_summary();
        let mut review = reviewer::review(&mut self.crew, &self.task, &code, &summary)?;
        if !review.parsed {
            step.notes
                .push("review had no VERDICT line; counted as approve".into());
        }
        let mut rounds = 0;
        // Settled behaviour outranks any single revision (one vote against agreement, or a
        // tie the earlier candidate wins), so asking for one would only spend a model call.
        if review.verdict == Verdict::RequestChanges
            && self.runner.is_some()
            && self.settled(&self.clusters())
        {
            step.notes.push(
                "change request not sent back: the stated examples and agreeing candidates settle the behaviour, and a revision could not outrank it".into(),
            );
            rounds = self.crew.config.limits.review_rounds;
        }
        // A change request without reasons gives the CodeGenerator nothing to act on.
        while review.verdict == Verdict::RequestChanges
            && !review.reasons.is_empty()
            && rounds < self.crew.config.limits.review_rounds
        {
            rounds += 1;
            let findings = review
                .reasons
                .iter()
                .map(|r| format!("- {r}"))
                .collect::<Vec<_>>()
                .join("\n");
            self.findings = Some(findings.clone());
            self.reviews.push(review.clone());
            let before = self.chosen_code().expect("checked");
            let reply = code_generator::generate(
                &mut self.crew,
                &CodeRequest {
                    task: &self.task,
                    goal: "",
                    code: Some(&before),
                    feedback: Some(&findings),
                    checklist: &self.checklist.clone(),
                },
            )?;
            absorb_reply(step, &reply);
            let Some(new) = reply.valid_code().map(str::to_string) else {
                step.notes
                    .push("revision after review: no valid Python; kept the previous code".into());
                break;
            };
            if new == before {
                step.notes.push("revision after review: unchanged".into());
                break;
            }
            let i = self.add_candidate(&new, "review", step);
            if self.runner.is_none() {
                self.chosen = Some(i);
            } else {
                self.probe_all(step);
                let prev = self.chosen;
                self.select(step);
                if self.chosen != Some(i) {
                    step.notes.push(format!(
                        "revision after review (candidate {}) did not beat the chosen behaviour; kept",
                        i + 1
                    ));
                    self.chosen = prev;
                    break;
                }
            }
            self.changes.push(Change {
                step: step.index,
                by: AgentRole::CodeGenerator,
                side: Side::Code,
                reason: "review findings".into(),
            });
            let code = self.chosen_code().expect("chosen");
            let summary = self.behaviour_summary();
            review = reviewer::review(&mut self.crew, &self.task, &code, &summary)?;
        }
        step.verdict = match review.verdict {
            Verdict::Approve => "approve".into(),
            Verdict::RequestChanges => "request-changes".into(),
        };
        if review.verdict == Verdict::RequestChanges {
            self.findings = Some(
                review
                    .reasons
                    .iter()
                    .map(|r| format!("- {r}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        self.reviews.push(review);
        Ok(())
    }

    /// One line for the reviewer: examples and agreement so far.
    pub(super) fn behaviour_summary(&self) -> String {
        let Some(i) = self.chosen else {
            return "not run".into();
        };
        let c = &self.candidates[i];
        if c.profile.is_none() {
            return "not run".into();
        }
        format!(
            "stated examples {}/{} hold; {} of {} candidate(s) behave the same",
            c.examples.0,
            c.examples.1,
            self.evidence.clusters.first().map(|c| c.votes).unwrap_or(0),
            self.evidence
                .clusters
                .iter()
                .map(|c| c.votes)
                .sum::<usize>()
        )
    }
}

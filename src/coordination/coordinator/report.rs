//! Stage 4, judgement and report: the questions and written assertions weighed, the
//! observations gathered into [`Facts`] for the verdict rule ([`crate::coordination::verdict::decide`]),
//! each requirement linked to the inputs that exercised it, the run report.

use super::*;

impl Coordinator<'_, '_> {
    /// Questions where the evidence is split, then the written assertions weighed.
    pub(super) fn settle(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        if self.runner.is_none() || self.candidates.is_empty() {
            return Ok(());
        }
        self.probe_all(step);
        self.select(step);
        self.weigh_written_tests(step);
        self.ask_questions(step)?;
        self.judge_assertions();
        step.verdict = format!(
            "{} question(s), {} suspect assertion(s)",
            self.evidence.questions.len(),
            self.evidence
                .assertions
                .iter()
                .filter(|a| a.verdict == "suspect")
                .count()
        );
        Ok(())
    }

    /// Run the written tests on each cluster's first member: passes are weak evidence for a
    /// cluster (they break ties below agreement and answered questions).
    pub(super) fn weigh_written_tests(&mut self, step: &mut StepRecord) {
        let Some(tests) = self.tests.clone() else {
            return;
        };
        let reps: Vec<usize> = self
            .evidence
            .clusters
            .iter()
            .take(self.crew.config.limits.clusters_tested)
            .map(|c| c.members[0])
            .collect();
        for r in reps {
            self.run_written(r, &tests);
        }
        let before = self.chosen;
        self.select(step);
        if before != self.chosen {
            step.notes.push(format!(
                "written tests broke a tie: candidate {} chosen",
                self.chosen.map(|c| c + 1).unwrap_or(0)
            ));
        }
    }

    /// Run the written tests on candidate `i` once; remember the run and its passes.
    pub(super) fn run_written(&mut self, i: usize, tests: &str) {
        if self.candidates[i].written.is_some() {
            return;
        }
        let code = self.candidates[i].code.clone();
        if let Some(run) = self.run_tests(&code, Some(tests), &format!("candidate {}", i + 1)) {
            let n = run
                .cases
                .iter()
                .filter(|c| !c.id.contains(EXAMPLES_FILE) && c.outcome == CaseOutcome::Passed)
                .count();
            self.candidates[i].written = Some((n, self.test_runs.len() - 1));
        }
    }

    /// The written assertions the chosen candidate fails: suspect when the behaviour is
    /// settled on at least `limits.min_usable_inputs` inputs (the agreed behaviour contradicts
    /// them), evidence against it otherwise.
    pub(super) fn judge_assertions(&mut self) {
        let (Some(i), Some(tests)) = (self.chosen, self.tests.clone()) else {
            return;
        };
        self.run_written(i, &tests);
        let Some((_, run)) = self.candidates[i].written else {
            return;
        };
        // Agreement on fewer than the minimum inputs is too thin to overrule an assertion.
        let settled = self.settled(&self.evidence.clusters)
            && self.usable_count() >= self.crew.config.limits.min_usable_inputs;
        self.evidence.assertions = self.test_runs[run]
            .cases
            .iter()
            .filter(|c| {
                !c.id.contains(EXAMPLES_FILE)
                    && !matches!(c.outcome, CaseOutcome::Passed | CaseOutcome::Skipped)
            })
            .map(|c| AssertionVerdict {
                test: c.id.clone(),
                message: c.message.chars().take(300).collect(),
                verdict: if settled { "suspect" } else { "evidence" }.into(),
            })
            .collect();
    }

    pub(super) fn finish(
        mut self,
        plan: Plan,
        plan_trace: PlanTrace,
        start: Instant,
        judge_step: StepRecord,
    ) -> RunOutcome {
        if self.runner.is_some() && !self.candidates.is_empty() {
            self.steps.push(judge_step);
        }
        let code = self.chosen_code();
        let final_run = code
            .clone()
            .and_then(|c| self.run_tests(&c, self.tests.clone().as_deref(), "final"));
        let (status, reason) = self.verdict(code.is_some(), final_run.as_ref());
        self.evidence.reason = reason.clone();
        self.evidence.dropped_inputs = (0..self.inputs.len())
            .filter_map(|i| {
                self.drop_reason(i)
                    .map(|why| format!("{}: {why}", self.inputs[i].code))
            })
            .collect();
        self.evidence.inputs = self.inputs.clone();
        self.fill_requirements();
        let final_tests = match &final_run {
            Some(r) => format!("{reason} (tests: {})", r.summary()),
            None => reason,
        };
        let calls = std::mem::take(&mut self.crew.calls);
        let model = calls
            .first()
            .map(|c| c.model.clone())
            .unwrap_or_else(|| self.crew.models.model_arg(AgentRole::CodeGenerator));
        let report = RunReport {
            task: self.task.clone(),
            model,
            mock: self.crew.models.is_mock(),
            plan,
            plan_trace,
            requirements: self.requirements,
            steps: self.steps,
            test_runs: self.test_runs,
            changes: self.changes,
            candidates: self.candidates,
            evidence: self.evidence,
            reviews: self.reviews,
            status,
            success: status == FinalStatus::Passed,
            final_tests,
            totals: Totals::of(&calls),
            loads: self.crew.models.loads.clone(),
            seconds: start.elapsed().as_secs_f64(),
            calls,
        };
        RunOutcome {
            code,
            tests: self.tests,
            examples: self.examples,
            report,
        }
    }

    /// The calibrated status and its reason: the observations gathered into [`Facts`], the
    /// rule in [`verdict::decide`].
    pub(super) fn verdict(
        &self,
        has_code: bool,
        final_run: Option<&TestRun>,
    ) -> (FinalStatus, String) {
        let clusters = &self.evidence.clusters;
        let chosen = self
            .chosen
            .and_then(|i| self.candidates[i].profile.as_ref());
        let count = |source: &str| -> (usize, usize) {
            let Some(p) = chosen else {
                return (0, 0);
            };
            let idx: Vec<usize> = (0..self.inputs.len())
                .filter(|&k| self.inputs[k].source == source)
                .collect();
            (
                idx.iter().filter(|&&k| p.matches[k] == Some(true)).count(),
                idx.len(),
            )
        };
        let assertions = |v: &str| {
            self.evidence
                .assertions
                .iter()
                .filter(|a| a.verdict == v)
                .count()
        };
        // Inputs that are not error-case checks, and those on which the chosen code returned.
        let usable = self.usable_inputs();
        let calls: Vec<usize> = (0..self.inputs.len())
            .filter(|&k| usable[k] && self.inputs[k].source != ERROR_CASE)
            .collect();
        let returned = chosen.map_or(0, |p| {
            calls
                .iter()
                .filter(|&&k| matches!(p.observations[k], Observation::Value(_)))
                .count()
        });
        let examples_stated = self.inputs.iter().any(|i| i.source == "example");
        let defined = self.defined_names();
        let facts = Facts {
            has_code,
            sandbox: self.runner.is_some(),
            inputs: self.inputs.len(),
            chosen_ran: chosen.is_some(),
            final_tests: final_run.map(|r| (r.all_passed() && !r.cases.is_empty(), r.summary())),
            failures: self.supported_failures(),
            usable: usable.iter().filter(|u| **u).count(),
            min_usable: self.crew.config.limits.min_usable_inputs,
            settled: self.settled(clusters),
            lead_votes: clusters.first().map(|c| c.votes).unwrap_or(0),
            total_votes: clusters.iter().map(|c| c.votes).sum(),
            behaviours: clusters.len(),
            examples: count("example"),
            error_checks: count(ERROR_CASE),
            value_checks: count(STATED_VALUE),
            returned: (returned, calls.len()),
            question_settled: self.evidence.questions.iter().any(|q| q.chosen.is_some()),
            suspect: assertions("suspect"),
            evidence_against: assertions("evidence"),
            unexercised: self.unexercised(),
            // A sentence that describes a defined function as a whole is judged by the stated
            // examples too, when there are any: they are instances of it.
            by_agreement: self
                .requirements
                .iter()
                .filter(|r| {
                    r.kind != Kind::Example
                        && !r.states_outcome()
                        && self.example_stating(r).is_none()
                        && !(examples_stated && requirements::describes(r, &defined))
                })
                .map(|r| r.id.clone())
                .collect(),
        };
        verdict::decide(&facts)
    }

    /// The requirements no usable input exercised: a stated error case (an `error` requirement
    /// naming its exception) with no error-case call and no written call that made the chosen
    /// candidate raise it, a stated value with no call of its case, and a requirement that
    /// states no outcome with no call naming it. Each with why.
    pub(super) fn unexercised(&self) -> Vec<String> {
        let usable = self.usable_inputs();
        let chosen = self
            .chosen
            .and_then(|i| self.candidates[i].profile.as_ref());
        let values = self.requirements.iter().filter_map(|r| {
            let value = r.returns.as_ref()?;
            let exercised = self.example_stating(r).is_some_and(|k| usable[k])
                || (0..self.inputs.len()).any(|k| {
                    usable[k]
                        && self.input_reqs[k].as_deref() == Some(r.id.as_str())
                        && self.inputs[k].source == STATED_VALUE
                });
            (!exercised).then(|| {
                format!(
                    "{} (\"{}\": return {value}; no call that meets its case was written)",
                    r.id,
                    cut_line(&r.quote, 80)
                )
            })
        });
        // A requirement that states no outcome to check is exercised by a usable input that
        // names it (any usable input, when it describes a defined function as a whole); with
        // none, nothing ran its case.
        let defined = self.defined_names();
        let behaviours = self.requirements.iter().filter_map(|r| {
            if r.kind == Kind::Example || r.states_outcome() {
                return None;
            }
            let whole = requirements::describes(r, &defined);
            let exercised = self.example_stating(r).is_some_and(|k| usable[k])
                || (0..self.inputs.len()).any(|k| {
                    usable[k] && (whole || self.input_reqs[k].as_deref() == Some(r.id.as_str()))
                });
            (!exercised).then(|| {
                format!(
                    "{} (\"{}\": no usable call that meets it was written)",
                    r.id,
                    cut_line(&r.quote, 80)
                )
            })
        });
        self.requirements
            .iter()
            .filter(|r| r.kind == Kind::Error)
            .filter_map(|r| {
                let raises = r.raises.as_ref()?;
                let exercised = (0..self.inputs.len()).any(|k| {
                    usable[k]
                        && self.input_reqs[k].as_deref() == Some(r.id.as_str())
                        && (self.inputs[k].source == ERROR_CASE
                            || chosen.is_some_and(|p| {
                                p.observations[k] == Observation::Raised(raises.clone())
                            }))
                });
                (!exercised).then(|| {
                    format!(
                        "{} (\"{}\": raise {raises}; no call that meets its condition was written)",
                        r.id,
                        cut_line(&r.quote, 80)
                    )
                })
            })
            .chain(values)
            .chain(behaviours)
            .collect()
    }

    /// The functions and classes the first candidate defines (what a sentence may describe as
    /// a whole).
    fn defined_names(&self) -> Vec<String> {
        self.candidates
            .first()
            .map(|c| crate::syntax::defined_names(&c.code))
            .unwrap_or_default()
    }

    /// The stated example read from requirement `r`'s sentence (it holds the example's
    /// arguments and value), if any: that example exercises it.
    pub(super) fn example_stating(&self, r: &Requirement) -> Option<usize> {
        if r.kind == Kind::Example {
            return None;
        }
        (0..self.inputs.len()).find(|&k| {
            let i = &self.inputs[k];
            i.source == "example"
                && i.expected
                    .as_deref()
                    .is_some_and(|e| requirements::states_example(&r.quote, &i.code, e))
        })
    }

    /// Which requirements hold, from the chosen candidate's behaviour on the inputs that
    /// exercise them; each requirement lists those inputs and their outcome (a stated error
    /// case's call `holds` when it raised the stated type, `fails` otherwise; a dropped input
    /// says why), and an unexercised stated error case says why it was not exercised.
    pub(super) fn fill_requirements(&mut self) {
        let drops: Vec<Option<&'static str>> = (0..self.inputs.len())
            .map(|i| self.drop_reason(i))
            .collect();
        let unexercised = self.unexercised();
        let any_usable = self.usable_inputs().iter().any(|u| *u);
        let defined = self.defined_names();
        let Some(p) = self.chosen.and_then(|i| self.candidates[i].profile.clone()) else {
            return;
        };
        let stating: Vec<Option<usize>> = self
            .requirements
            .iter()
            .map(|r| self.example_stating(r))
            .collect();
        for (ri, r) in self.requirements.iter_mut().enumerate() {
            if let Some(u) = unexercised
                .iter()
                .find(|u| u.starts_with(&format!("{} (", r.id)))
            {
                r.note = Some(format!(
                    "not exercised, so the verdict cannot be `passed`: {u}"
                ));
            }
            let hits: Vec<usize> = self
                .input_reqs
                .iter()
                .enumerate()
                .filter(|(_, t)| t.as_deref() == Some(r.id.as_str()))
                .map(|(i, _)| i)
                .collect();
            let by_example = (r.kind != Kind::Example && hits.is_empty())
                .then_some(stating[ri])
                .flatten();
            if let Some(k) = by_example {
                r.status = if p.matches[k] == Some(true) {
                    "holds"
                } else {
                    "fails"
                }
                .into();
                r.evidence = vec![format!(
                    "{} -> {} (the stated example read from this sentence)",
                    self.inputs[k].code, p.observations[k]
                )];
                continue;
            }
            if hits.is_empty() {
                if r.note.is_none() && r.kind != Kind::Example {
                    if requirements::describes(r, &defined) && any_usable {
                        r.status = "exercised".into();
                        r.note = Some(
                            "it describes a defined function as a whole: every usable call exercises it, and the candidates' agreement judges it".into(),
                        );
                    } else {
                        r.note = Some("no input named it".into());
                    }
                }
                continue;
            }
            r.evidence = hits
                .iter()
                .map(|&i| {
                    let mut line = format!("{} -> {}", self.inputs[i].code, p.observations[i]);
                    if is_stated_check(&self.inputs[i].source) {
                        line += if p.matches[i] == Some(true) {
                            " (holds)"
                        } else {
                            " (fails)"
                        };
                    } else if let Some(why) = drops[i] {
                        line += &format!(" (dropped: {why})");
                    }
                    line
                })
                .collect();
            let checks: Vec<usize> = hits
                .iter()
                .copied()
                .filter(|&i| is_stated_check(&self.inputs[i].source))
                .collect();
            r.status = if r.kind == Kind::Example {
                if hits.iter().all(|&i| p.matches[i] == Some(true)) {
                    "holds"
                } else {
                    "fails"
                }
            } else if !checks.is_empty() {
                if checks.iter().all(|&i| p.matches[i] == Some(true)) {
                    "holds"
                } else {
                    "fails"
                }
            } else if hits.iter().all(|&i| drops[i].is_some()) {
                "not exercised"
            } else if let Some(e) = &r.raises {
                if hits
                    .iter()
                    .any(|&i| p.observations[i] == Observation::Raised(e.clone()))
                {
                    "holds"
                } else {
                    "exercised"
                }
            } else {
                "exercised"
            }
            .into();
        }
    }
}

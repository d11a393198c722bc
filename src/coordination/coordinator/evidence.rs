//! Stage 2, evidence: the inputs (stated examples, calls for each stated error case, written
//! calls), every candidate probed on them, the inputs left out and why, the candidates
//! clustered by behaviour and ranked, and small questions where the leading behaviours
//! differ.

use super::*;

/// A case that needs calls: its words, the expected outcome (none when the task states
/// none) and the source its calls get.
type StatedCaseRow = (StatedCase, Option<String>, &'static str);

impl Coordinator<'_, '_> {
    /// The InputWriter writes calls that exercise the requirements (no expected values).
    pub(super) fn write_inputs(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let Some(code) = self.candidates.first().map(|c| c.code.clone()) else {
            return Ok(());
        };
        self.inputs_written = true;
        let max = self.crew.config.limits.max_inputs;
        let names: Vec<String> = self.wanted.iter().map(|w| w.name.clone()).collect();
        let defaults = default_inputs::inputs(&code, &names, &self.stated, max);
        let example: Vec<String> = defaults.iter().take(2).cloned().collect();
        let (mut written, problems) = input_writer::write(
            &mut self.crew,
            &self.task,
            &self.checklist,
            &code,
            &example,
            max,
        )?;
        step.notes
            .extend(problems.iter().map(|p| format!("inputs: {p}")));
        // Too few calls written (a small model often writes code instead): edge values for
        // each parameter fill up to the limit.
        if written.len() < max / 2 {
            step.notes.push(format!(
                "the InputWriter gave {} call(s); added edge values for each parameter",
                written.len()
            ));
            for d in defaults {
                if written.len() >= max {
                    break;
                }
                if !written.iter().any(|w| w.code == d) {
                    written.push(input_writer::WrittenInput {
                        code: d,
                        requirement: None,
                    });
                }
            }
        }
        for w in written {
            if self.inputs.iter().any(|i| i.code == w.code) {
                continue;
            }
            self.inputs.push(Input {
                code: w.code,
                expected: None,
                source: "written".into(),
            });
            self.input_reqs.push(w.requirement);
        }
        let first = example.first().cloned().unwrap_or_else(|| "f(-1)".into());
        self.write_stated_calls(&code, &first, step)?;
        step.notes.push(format!(
            "{} input(s): {} stated example(s), {} stated error-case call(s), {} stated-value call(s), {} requirement call(s), {} written",
            self.inputs.len(),
            self.inputs.iter().filter(|i| i.source == "example").count(),
            self.inputs
                .iter()
                .filter(|i| i.source == ERROR_CASE)
                .count(),
            self.inputs
                .iter()
                .filter(|i| i.source == STATED_VALUE)
                .count(),
            self.inputs
                .iter()
                .filter(|i| i.source == REQUIREMENT_CALL)
                .count(),
            self.inputs.iter().filter(|i| !i.is_example()).count()
        ));
        Ok(())
    }

    /// Calls that meet each stated case's condition (the model writes the call), each checked
    /// against the outcome the task states: a stated error case must raise the exception type
    /// the task names (an input with expected value `!ValueError`), an edge case with a stated
    /// value must return it — ground truth like a stated example. A call that does not call a
    /// function the first candidate defines, with an argument count it takes, or that does not
    /// fit the case's words (an empty case with no empty argument) is left out: it would fail
    /// for its own fault. A requirement that states no outcome, that no written call names and
    /// that does not describe a defined function as a whole (every call exercises that), gets
    /// calls that meet it with no expected outcome: they exercise it, and the candidates'
    /// agreement on them judges it.
    pub(super) fn write_stated_calls(
        &mut self,
        code: &str,
        example: &str,
        step: &mut StepRecord,
    ) -> Result<(), AgentError> {
        // The stated checks (an exception or a value the task states) in one prompt; then the
        // requirements with no stated outcome, first from written calls that meet their
        // words, and in a prompt of their own for the rest (mixed into one prompt, a small
        // model writes worse calls for the checks).
        let (checks, open): (Vec<StatedCaseRow>, Vec<StatedCaseRow>) = self
            .stated_cases(code)
            .into_iter()
            .partition(|(_, expected, _)| expected.is_some());
        self.ask_cases(code, example, &checks, step)?;
        self.adopt_written(&checks, step);
        self.adopt_written(&open, step);
        let open: Vec<StatedCaseRow> = open
            .into_iter()
            .filter(|(c, _, _)| !self.names_requirement(&c.id))
            .collect();
        self.ask_cases(code, example, &open, step)
    }

    /// Whether an input is tied to requirement `id`.
    fn names_requirement(&self, id: &str) -> bool {
        self.input_reqs.iter().any(|t| t.as_deref() == Some(id))
    }

    /// Each requirement that needs calls of its own, with its expected outcome (`!ValueError`
    /// or a value; none for a requirement that states no outcome) and the calls' source. A
    /// requirement with no stated outcome needs none when a written call names it or it
    /// describes a defined function as a whole; a sentence a stated example was read from
    /// needs none.
    fn stated_cases(&self, code: &str) -> Vec<StatedCaseRow> {
        let defined = crate::syntax::defined_names(code);
        self.requirements
            .iter()
            .filter_map(|r| {
                let (expected, source) = match (r.kind, &r.raises, &r.returns) {
                    (Kind::Example, _, _) => return None,
                    // The sentence a stated example was read from: the example exercises it.
                    _ if self.example_stating(r).is_some() => return None,
                    (Kind::Error, Some(e), _) => (Some(format!("!{e}")), ERROR_CASE),
                    (Kind::Edge | Kind::Behaviour, None, Some(v)) => {
                        (Some(v.clone()), STATED_VALUE)
                    }
                    _ if self.names_requirement(&r.id) || requirements::describes(r, &defined) => {
                        return None
                    }
                    _ => (None, REQUIREMENT_CALL),
                };
                let outcome = match expected.as_deref().map(|e| e.strip_prefix('!').ok_or(e)) {
                    Some(Ok(e)) => format!("raise {e}"),
                    Some(Err(v)) => format!("return {v}"),
                    None => "behave as this sentence says".into(),
                };
                let case = StatedCase {
                    id: r.id.clone(),
                    quote: r.quote.clone(),
                    outcome,
                };
                Some((case, expected, source))
            })
            .collect()
    }

    /// Ask the model for calls that meet each of `stated`'s cases (one prompt), and add the
    /// ones that call a defined function with arguments it takes and fit the case's words.
    fn ask_cases(
        &mut self,
        code: &str,
        example: &str,
        stated: &[StatedCaseRow],
        step: &mut StepRecord,
    ) -> Result<(), AgentError> {
        let cases: Vec<StatedCase> = stated.iter().map(|(c, _, _)| c.clone()).collect();
        if cases.is_empty() {
            return Ok(());
        }
        let per = self.crew.config.limits.error_inputs_per_requirement;
        let (calls, problems) = input_writer::write_stated_calls(
            &mut self.crew,
            &self.task,
            &cases,
            code,
            example,
            per,
        )?;
        step.notes.extend(problems);
        for w in calls {
            let Some((case, exp, source)) = stated
                .iter()
                .find(|(c, _, _)| Some(c.id.as_str()) == w.requirement.as_deref())
            else {
                continue;
            };
            let id = &case.id;
            if !callable_with(code, &w.code) {
                step.notes.push(format!(
                    "stated case {id}: `{}` does not call a function solution.py defines with arguments it takes; left out",
                    w.code
                ));
                continue;
            }
            if *source == STATED_VALUE && !stated_value::call_fits(&case.quote, &w.code) {
                step.notes.push(format!(
                    "stated case {id}: `{}` does not meet the case as worded (\"{}\"); left out",
                    w.code,
                    cut_line(&case.quote, 80)
                ));
                continue;
            }
            let check = Input {
                code: w.code.clone(),
                expected: exp.clone(),
                source: (*source).into(),
            };
            // The InputWriter may have written the same call: it becomes the check. A call for
            // a requirement with no stated outcome names its requirement on that input, or
            // runs again under its own tag when the input belongs to another (a stated example).
            match self.inputs.iter().position(|i| i.code == w.code) {
                Some(k) if exp.is_none() && self.input_reqs[k].is_none() => {
                    self.input_reqs[k] = Some(id.clone());
                }
                Some(k) if exp.is_some() && self.inputs[k].is_example() => continue,
                Some(_) if exp.is_none() => {
                    self.inputs.push(check);
                    self.input_reqs.push(Some(id.clone()));
                }
                Some(k) => {
                    self.inputs[k] = check;
                    self.input_reqs[k] = Some(id.clone());
                }
                None => {
                    self.inputs.push(check);
                    self.input_reqs.push(Some(id.clone()));
                }
            }
        }
        Ok(())
    }

    /// A stated error case, or a requirement with no stated outcome, that got no call (a small
    /// model often writes code instead) is tied to written calls that meet its words
    /// ("negative": a negative argument), if there are any: they exercise it (an error case
    /// only when the chosen code raises the stated exception there; a call the model did not
    /// write for the case never becomes an expected outcome).
    fn adopt_written(&mut self, stated: &[StatedCaseRow], step: &mut StepRecord) {
        let per = self.crew.config.limits.error_inputs_per_requirement;
        for (case, _, source) in stated {
            if *source == STATED_VALUE || self.names_requirement(&case.id) {
                continue;
            }
            let fitting: Vec<usize> = (0..self.inputs.len())
                .filter(|&k| {
                    self.input_reqs[k].is_none()
                        && self.inputs[k].source == "written"
                        && stated_value::call_meets(&case.quote, &self.inputs[k].code) == Some(true)
                })
                .take(per)
                .collect();
            for &k in &fitting {
                self.input_reqs[k] = Some(case.id.clone());
                step.notes.push(format!(
                    "requirement {}: no call was written for it; the written `{}` meets its words",
                    case.id, self.inputs[k].code
                ));
            }
        }
    }

    /// Run every candidate not yet probed on every input.
    pub(super) fn probe_all(&mut self, step: &mut StepRecord) {
        let Some(runner) = self.runner else {
            return;
        };
        if self.inputs.is_empty() {
            return;
        }
        for i in 0..self.candidates.len() {
            if self.candidates[i].profile.is_some() {
                continue;
            }
            match behaviour::probe_with(
                runner,
                &self.candidates[i].code,
                &self.inputs,
                &self.imports,
            ) {
                Ok(p) => {
                    self.candidates[i].examples = p.examples();
                    self.candidates[i].behaviour = Some(p.observations.clone());
                    self.candidates[i].profile = Some(p);
                }
                Err(e) => step
                    .notes
                    .push(format!("candidate {}: probe failed: {e}", i + 1)),
            }
        }
    }

    /// Inputs every probed candidate crashed on with an internal error are bad inputs, unless
    /// the task itself states their arguments (then the crash is a shared bug: every candidate
    /// failing with `TypeError` on the task's own `arr = [2, 1, 1, 4, 5, 8, 2, 3]` must not be
    /// left out, or one trivial input would make the verdict); a written input that some
    /// candidate does not finish is too slow to compare on (or a case the task does not state:
    /// `factorize(0)` looping forever). Either is left out of the comparison and named in the
    /// report; stated examples always count.
    pub(super) fn drop_reason(&self, i: usize) -> Option<&'static str> {
        if self.inputs[i].is_example() {
            return None;
        }
        let profiles: Vec<&Profile> = self
            .candidates
            .iter()
            .filter_map(|c| c.profile.as_ref())
            .collect();
        if profiles.is_empty() {
            return None;
        }
        if profiles.iter().all(|p| match &p.observations[i] {
            Observation::Raised(e) => behaviour::is_internal_error(e),
            _ => false,
        }) && !behaviour::stated_in(&self.task, &self.inputs[i].code)
            && !self.shared_bug(&profiles, i)
        {
            return Some("every candidate crashes on it");
        }
        if profiles
            .iter()
            .any(|p| p.observations[i] == Observation::Hung)
        {
            return Some("a candidate does not finish it in time: not compared (too slow to judge, or a case the task does not state)");
        }
        None
    }

    /// Every candidate raises the same internal error on input `i`, and the input is
    /// well-typed for the asked signature ([`well_typed::shared_bug`]): the crash is a bug
    /// they share.
    pub(super) fn shared_bug(&self, profiles: &[&Profile], i: usize) -> bool {
        let first = &profiles[0].observations[i];
        if !profiles.iter().all(|p| p.observations[i] == *first) {
            return false;
        }
        let Observation::Raised(error) = first else {
            return false;
        };
        let asked: Vec<String> = self.wanted.iter().map(|w| w.name.clone()).collect();
        let code = self
            .candidates
            .first()
            .map(|c| c.code.as_str())
            .unwrap_or("");
        well_typed::shared_bug(
            &self.inputs[i].code,
            error,
            &asked,
            &self.task,
            code,
            &self.stated,
        )
    }

    /// Inputs that ran on every candidate and count (stated examples and error cases always).
    pub(super) fn usable_count(&self) -> usize {
        self.usable_inputs().iter().filter(|u| **u).count()
    }

    pub(super) fn usable_inputs(&self) -> Vec<bool> {
        (0..self.inputs.len())
            .map(|i| self.drop_reason(i).is_none())
            .collect()
    }

    /// Profiles restricted to usable inputs.
    pub(super) fn masked(&self, p: &Profile, usable: &[bool]) -> Profile {
        let keep = |i: &usize| usable[*i];
        let idx: Vec<usize> = (0..p.observations.len()).filter(keep).collect();
        Profile {
            observations: idx.iter().map(|&i| p.observations[i].clone()).collect(),
            matches: idx.iter().map(|&i| p.matches[i]).collect(),
            messages: idx.iter().map(|&i| p.messages[i].clone()).collect(),
        }
    }

    /// Cluster the probed candidates, apply answered questions and written-test evidence, rank.
    pub(super) fn clusters(&self) -> Vec<Cluster> {
        let usable = self.usable_inputs();
        let masked: Vec<(usize, Profile, usize)> = self
            .candidates
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.profile
                    .as_ref()
                    .map(|p| (i, self.masked(p, &usable), 1 + c.duplicates))
            })
            .collect();
        let refs: Vec<(usize, &Profile, usize)> =
            masked.iter().map(|(i, p, v)| (*i, p, *v)).collect();
        let mut clusters = behaviour::cluster(&refs);
        for c in &mut clusters {
            c.written_passed = c
                .members
                .iter()
                .filter_map(|&m| self.candidates[m].written.map(|w| w.0))
                .max()
                .unwrap_or(0);
            let p = self.candidates[c.members[0]]
                .profile
                .as_ref()
                .expect("probed");
            for q in &self.evidence.questions {
                let Some(chosen) = q.chosen else { continue };
                let Some(i) = self.inputs.iter().position(|x| x.code == q.input) else {
                    continue;
                };
                let obs = p.observations[i].to_string();
                if obs == q.options[chosen] {
                    c.answers += 1;
                } else if obs == q.options[1 - chosen] {
                    c.answers -= 1;
                }
            }
        }
        behaviour::rank(&mut clusters);
        clusters
    }

    /// Every probed candidate behaves the same on at least one usable input, at least `votes`
    /// of them, and the stated examples hold.
    pub(super) fn agreed(&self, votes: usize) -> bool {
        // Agreement on no input is no agreement: more candidates may make inputs usable.
        if self.usable_count() == 0 {
            return false;
        }
        let c = self.clusters();
        c.len() == 1 && c[0].consistent && c[0].votes >= votes
    }

    pub(super) fn select(&mut self, step: &mut StepRecord) {
        let clusters = self.clusters();
        if let Some(lead) = clusters.first() {
            let best = *lead.members.iter().min().expect("non-empty cluster");
            if self.chosen != Some(best) {
                step.notes.push(format!(
                    "chose candidate {} ({} vote(s) of {}; stated examples {}/{})",
                    best + 1,
                    lead.votes,
                    clusters.iter().map(|c| c.votes).sum::<usize>(),
                    self.candidates[best].examples.0,
                    self.candidates[best].examples.1
                ));
            }
            self.chosen = Some(best);
        } else if self.chosen.is_none() && !self.candidates.is_empty() {
            self.chosen = Some(0);
        }
        self.evidence.clusters = clusters;
    }

    /// Whether the evidence settles the leading cluster: it is consistent with the stated
    /// examples, and either it is the only consistent behaviour (with two votes, or stated
    /// examples that ruled the others out), or it has more votes than the runner-up, or
    /// answered questions favour it.
    pub(super) fn settled(&self, clusters: &[Cluster]) -> bool {
        let Some(lead) = clusters.first() else {
            return false;
        };
        if !lead.consistent {
            return false;
        }
        let runner_up = clusters.iter().skip(1).find(|c| c.consistent);
        let stated = self.inputs.iter().any(Input::is_example);
        match runner_up {
            None => lead.votes >= 2 || (stated && clusters.len() > 1),
            Some(r) => lead.answers > r.answers || (lead.votes >= 2 && lead.votes > r.votes),
        }
    }

    /// Ask about inputs where the two leading consistent behaviours differ, until settled.
    pub(super) fn ask_questions(&mut self, step: &mut StepRecord) -> Result<(), AgentError> {
        let max = self.crew.config.limits.questions;
        let mut asked = 0;
        while asked < max {
            let clusters = self.clusters();
            if self.settled(&clusters) {
                break;
            }
            let consistent: Vec<&Cluster> = clusters.iter().filter(|c| c.consistent).collect();
            if consistent.len() < 2 {
                break;
            }
            let a = self.candidates[consistent[0].members[0]]
                .profile
                .clone()
                .expect("probed");
            let b = self.candidates[consistent[1].members[0]]
                .profile
                .clone()
                .expect("probed");
            let open = behaviour::disagreements(&self.inputs, &a, &b)
                .into_iter()
                .find(|d| {
                    !self
                        .evidence
                        .questions
                        .iter()
                        .any(|q| q.input == self.inputs[d.input].code)
                });
            let Some(d) = open else { break };
            let q = input_writer::ask(
                &mut self.crew,
                &self.task,
                &self.inputs[d.input].code,
                [d.leader.to_string(), d.other.to_string()],
            )?;
            step.notes.push(format!(
                "asked about `{}`: {} or {} -> {}",
                q.input,
                q.options[0],
                q.options[1],
                match q.chosen {
                    Some(i) => format!("`{}` (both orders)", q.options[i]),
                    None => format!("unsettled (answers {:?})", q.answers),
                }
            ));
            self.evidence.questions.push(q);
            asked += 1;
        }
        self.select(step);
        Ok(())
    }
}

/// Whether the last statement of `input` calls a top-level function (or class) `code`
/// defines with an argument count it takes; a method call or other expression is accepted.
fn callable_with(code: &str, input: &str) -> bool {
    let last = input.rsplit("; ").next().unwrap_or(input).trim();
    let Some(open) = last.find('(') else {
        return true;
    };
    let name = &last[..open];
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return true;
    }
    let Some((required, total)) = static_check::arity(code, name) else {
        return false;
    };
    let Some(close) = crate::coordination::scan::close_of(last.as_bytes(), open, false) else {
        return false;
    };
    let args = &last[open + 1..close - 1];
    if args.contains('=') || args.contains('*') {
        return true;
    }
    let n = if args.trim().is_empty() {
        0
    } else {
        crate::coordination::scan::split_top(args).len()
    };
    n >= required && total.is_none_or(|t| n <= t)
}

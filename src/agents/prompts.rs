//! Prompt templates: Markdown files under `src/agents/prompts/`, embedded at build time and
//! overridable file by file from a directory (`--prompts DIR`, or
//! `$XDG_CONFIG_HOME/codeswarm/prompts/`). Rendered with minijinja.

use std::path::{Path, PathBuf};

use minijinja::Environment;

/// Every prompt codeswarm uses, by name (file `NAME.md`).
pub const BUILTIN: &[(&str, &str)] = &[
    ("system", include_str!("prompts/system.md")),
    ("decomposer", include_str!("prompts/decomposer.md")),
    ("plan_retry", include_str!("prompts/plan_retry.md")),
    ("code_generator", include_str!("prompts/code_generator.md")),
    ("test_writer", include_str!("prompts/test_writer.md")),
    ("input_writer", include_str!("prompts/input_writer.md")),
    ("stated_inputs", include_str!("prompts/stated_inputs.md")),
    ("question", include_str!("prompts/question.md")),
    ("debugger", include_str!("prompts/debugger.md")),
    ("debugger_tests", include_str!("prompts/debugger_tests.md")),
    ("reviewer", include_str!("prompts/reviewer.md")),
    ("syntax_retry", include_str!("prompts/syntax_retry.md")),
    ("no_code_retry", include_str!("prompts/no_code_retry.md")),
    ("localize_files", include_str!("prompts/localize_files.md")),
    (
        "localize_symbols",
        include_str!("prompts/localize_symbols.md"),
    ),
    ("repair", include_str!("prompts/repair.md")),
    (
        "repair_function",
        include_str!("prompts/repair_function.md"),
    ),
    ("repair_retry", include_str!("prompts/repair_retry.md")),
    ("repro_test", include_str!("prompts/repro_test.md")),
    ("repro_retry", include_str!("prompts/repro_retry.md")),
];

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt template {name} ({origin}): {detail}")]
    Template {
        name: String,
        origin: String,
        detail: String,
    },
    #[error(transparent)]
    Input(#[from] crate::input_file::InputError),
    #[error("cannot read prompt override {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "prompt override directory {0} contains {1}, which is not a known prompt (known: {2})"
    )]
    Unknown(PathBuf, String, String),
}

/// The loaded prompt set.
pub struct Prompts {
    env: Environment<'static>,
    /// Names overridden from files.
    pub overridden: Vec<String>,
}

impl Prompts {
    /// Built-in prompts, with overrides from `dir` (or the user config dir when `dir` is None).
    pub fn load(dir: Option<&Path>) -> Result<Self, PromptError> {
        let dir = dir.map(Path::to_path_buf).or_else(|| {
            let d = dirs::config_dir()?.join("codeswarm").join("prompts");
            d.is_dir().then_some(d)
        });
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_keep_trailing_newline(false);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let mut overridden = vec![];
        for (name, text) in BUILTIN {
            let (source, origin) = match &dir {
                Some(d) if d.join(format!("{name}.md")).is_file() => {
                    let p = d.join(format!("{name}.md"));
                    let t = crate::input_file::read_input_string(
                        &p,
                        "prompt override",
                        crate::input_file::MAX_TEXT_FILE,
                        crate::input_file::Follow::Yes,
                    )?;
                    overridden.push(name.to_string());
                    (t, p.display().to_string())
                }
                _ => (text.to_string(), "built-in".to_string()),
            };
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| PromptError::Template {
                    name: name.to_string(),
                    origin,
                    detail: e.to_string(),
                })?;
        }
        if let Some(d) = &dir {
            if let Ok(entries) = std::fs::read_dir(d) {
                for e in entries.flatten() {
                    let f = e.file_name().to_string_lossy().to_string();
                    if let Some(stem) = f.strip_suffix(".md") {
                        if !BUILTIN.iter().any(|(n, _)| *n == stem) {
                            let known = BUILTIN
                                .iter()
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", ");
                            return Err(PromptError::Unknown(d.clone(), f, known));
                        }
                    }
                }
            }
        }
        Ok(Self { env, overridden })
    }

    /// Render prompt `name` with `ctx` (a `minijinja::context!` or any serializable value).
    pub fn render<S: serde::Serialize>(&self, name: &str, ctx: S) -> Result<String, PromptError> {
        let t = self
            .env
            .get_template(name)
            .map_err(|e| PromptError::Template {
                name: name.into(),
                origin: "lookup".into(),
                detail: e.to_string(),
            })?;
        t.render(ctx)
            .map(|s| s.trim().to_string())
            .map_err(|e| PromptError::Template {
                name: name.into(),
                origin: "render".into(),
                detail: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn builtin_prompts_render_with_their_variables() {
        let p = Prompts::load(Some(Path::new("/nonexistent"))).unwrap();
        let s = p
            .render(
                "code_generator",
                context! { task => "Add two numbers", goal => "", code => "", feedback => "", checklist => "" },
            )
            .unwrap();
        assert!(s.starts_with("Task:\nAdd two numbers"));
        assert!(s.contains("```python"));
        // Strict undefined: a missing variable is an error, not an empty string.
        assert!(p
            .render("code_generator", context! { task => "x" })
            .is_err());
    }

    #[test]
    fn override_directory_replaces_one_prompt_and_rejects_unknown_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("reviewer.md"), "Review: {{ task }}").unwrap();
        let p = Prompts::load(Some(d.path())).unwrap();
        assert_eq!(p.overridden, vec!["reviewer".to_string()]);
        assert_eq!(
            p.render("reviewer", context! { task => "T" }).unwrap(),
            "Review: T"
        );
        std::fs::write(d.path().join("wizard.md"), "x").unwrap();
        assert!(Prompts::load(Some(d.path())).is_err());
    }
}

//! The pipeline on the scripted model and the real sandbox, for tests that assert the
//! verdict's behaviour: a script of replies, a task, and config changes.

use codeswarm::agents::prompts::Prompts;
use codeswarm::config::Config;
use codeswarm::coordination::RunOutcome;
use codeswarm::models::{ManagerSettings, ModelManager, Registry};
use codeswarm::sandbox::Sandbox;
use codeswarm::testing::SandboxRunner;

/// Run `task` with the replies of `script`, on the default config changed by `tweak` and the
/// built-in prompts.
pub fn run_scripted(script: &str, task: &str, tweak: impl FnOnce(&mut Config)) -> RunOutcome {
    let settings = ManagerSettings {
        mock_script: Some(("test".into(), script.into())),
        quiet: true,
        ..Default::default()
    };
    let mut manager = ModelManager::new(Registry::builtin(), settings);
    let mut config = Config::defaults();
    tweak(&mut config);
    let prompts = Prompts::load(Some(std::path::Path::new("/nonexistent"))).unwrap();
    let sandbox =
        Sandbox::open(&()).expect("the sandbox runtime (run `codeswarm sandbox --setup`)");
    let runner = SandboxRunner::new(sandbox, &config.sandbox);
    codeswarm::pipeline::run_task(task, &mut manager, &config, &prompts, Some(&runner)).unwrap()
}

/// One scripted reply for `role`.
pub fn reply(role: &str, text: &str) -> String {
    format!("[[reply]]\nrole = \"{role}\"\ntext = '''{text}'''\n\n")
}

/// `code` in a Python fence, as a model replies.
pub fn python(code: &str) -> String {
    format!("```python\n{code}\n```")
}

/// The Reviewer approves.
pub const APPROVE: &str = "\n[[reply]]\nrole = \"reviewer\"\ntext = \"VERDICT: approve\"\n";

//! A closed standard output (`codeswarm report RUN | head -c 10`, `codeswarm batch … | true`)
//! ends the command quietly, as a Unix tool killed by `SIGPIPE` would: exit status
//! [`EXIT_CLOSED_STDOUT`] (141 = 128 + `SIGPIPE`, what a shell shows for such a tool), nothing
//! printed. Rust ignores `SIGPIPE`, so a write to a closed pipe is an error; `println!` turns it
//! into a panic, and other writers panic with the broken-pipe error. Both are caught here, in one place: a panic hook for the printing macros,
//! [`is_closed_stdout`] for an error a command returns. `SIGPIPE` itself stays ignored, so a
//! child process or socket that goes away is still an ordinary error, never a silent death.
//! Whatever a command had already written stays (predictions are written line by line, so a
//! batch stopped this way resumes like any interrupted one).

use std::io::ErrorKind;

/// The exit status when standard output was closed by its reader.
pub const EXIT_CLOSED_STDOUT: i32 = 141;

/// Install the panic hook (once, before the command runs): a panic from printing to a closed
/// standard output exits with [`EXIT_CLOSED_STDOUT`]; any other panic goes to the previous hook.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if is_print_to_closed_stdout(message) {
                std::process::exit(EXIT_CLOSED_STDOUT);
            }
            previous(info)
        }));
    });
}

/// Whether a panic with `message` comes from writing to the closed standard output: std's
/// `print!` family says so; other writers (e.g. shell completions) panic with the broken-pipe
/// error, which counts only while standard output's reader is gone.
fn is_print_to_closed_stdout(message: &str) -> bool {
    let broken_pipe = message.contains("Broken pipe")
        || message.contains("BrokenPipe")
        || message.contains("os error 32");
    broken_pipe && (message.starts_with("failed printing to stdout") || stdout_reader_gone())
}

/// Whether `err` is a write to the closed standard output: a broken pipe anywhere in its chain
/// while standard output's reader is gone (a broken pipe to a child process is an ordinary
/// error).
pub fn is_closed_stdout(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
    }) && stdout_reader_gone()
}

/// Whether standard output is a pipe whose reading end is closed (`poll` reports `POLLERR`).
fn stdout_reader_gone() -> bool {
    #[cfg(unix)]
    {
        let mut fd = libc::pollfd {
            fd: libc::STDOUT_FILENO,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no timeout.
        let n = unsafe { libc::poll(&mut fd, 1, 0) };
        n == 1 && fd.revents & libc::POLLERR != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_closed_pipe_is_recognised() {
        assert!(is_print_to_closed_stdout(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_print_to_closed_stdout(
            "failed printing to stdout: No space left on device (os error 28)"
        ));
        assert!(!is_print_to_closed_stdout("index out of bounds"));
        // The test harness's stdout is not a closed pipe.
        assert!(!is_print_to_closed_stdout("write failed: Broken pipe"));
        assert!(!is_closed_stdout(&anyhow::anyhow!("other")));
    }
}

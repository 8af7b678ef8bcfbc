//! Advice that names a command (`` run `cdnctl down` again ``) repeats the
//! flags of this run that matter, so that following it does what was meant:
//! after `cdnctl down --purge --no-wait`, "run `cdnctl down` again" would
//! keep the bucket, and after `--profile other`, act on another account.

/// Flags (taking a value) that say which stack, account or settings a
/// command acts on, so they matter to every command: the global ones
/// (`--env-file`, `--profile`, …) and the stack settings'.
fn context() -> Vec<String> {
    use crate::settings::defs::{self, Group};
    use clap::CommandFactory as _;
    let cli = crate::cli::Cli::command();
    let global = cli
        .get_arguments()
        .filter(|a| a.is_global_set() && a.get_action().takes_values())
        .filter_map(|a| a.get_long());
    let stack = defs::group(Group::Stack).filter_map(|d| d.long());
    global.chain(stack).map(|long| format!("--{long}")).collect()
}

const VERBS: &[&str] = &["up", "down", "status", "sync", "check", "deploy"];

/// `text` with every `` `cdnctl VERB …` `` it suggests completed from this
/// run's command line.
pub fn complete(text: &str) -> String {
    if !text.contains("`cdnctl ") {
        return text.to_string();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    complete_with(text, &args)
}

/// `complete`, with the run's arguments given.
pub fn complete_with(text: &str, args: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("`cdnctl ") {
        let Some(len) = rest[start + 1..].find('`') else { break };
        let inner = &rest[start + 1..start + 1 + len];
        out.push_str(&rest[..start]);
        out.push('`');
        out.push_str(&command(inner, args));
        out.push('`');
        rest = &rest[start + 2 + len..];
    }
    out.push_str(rest);
    out
}

/// One suggested command (`cdnctl down --purge`), completed.
fn command(suggested: &str, args: &[String]) -> String {
    let tokens: Vec<&str> = suggested.split_whitespace().skip(1).collect();
    let Some(verb) = tokens.first().filter(|v| VERBS.contains(v)) else {
        return suggested.to_string();
    };
    let mut line: Vec<String> = if args.iter().any(|a| a == verb) {
        // The same command: all of it, but as a real run.
        args.iter().filter(|a| *a != "--dry-run").cloned().collect()
    } else {
        let mut line = vec![verb.to_string()];
        let context = context();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if context.contains(a) {
                line.push(a.clone());
                if let Some(value) = args.get(i + 1) {
                    line.push(value.clone());
                }
                i += 1;
            } else if context.iter().any(|f| a.starts_with(&format!("{f}="))) {
                line.push(a.clone());
            }
            i += 1;
        }
        line
    };
    let name = |t: &str| t.split('=').next().unwrap_or(t).to_string();
    for t in &tokens[1..] {
        if !line.iter().any(|l| name(l) == name(t)) {
            line.push(t.to_string());
        }
    }
    std::iter::once("cdnctl".to_string())
        .chain(line.iter().map(|t| quote(t)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A word as a POSIX shell reads it back.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,@%+".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::complete_with;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn the_same_command_is_repeated_whole() {
        assert_eq!(
            complete_with(
                "distribution E1: disabling takes minutes; run `cdnctl down` again to delete it",
                &args("--profile prod down --purge --no-wait --yes")
            ),
            "distribution E1: disabling takes minutes; run `cdnctl --profile prod down --purge --no-wait --yes` again to delete it"
        );
        assert_eq!(
            complete_with(
                "run `cdnctl down --purge` to delete them",
                &args("down --yes --dry-run")
            ),
            "run `cdnctl down --yes --purge` to delete them"
        );
        assert_eq!(
            complete_with(
                "run `cdnctl deploy` again to continue",
                &args("deploy dist --delete --connect-to :443:10.0.0.1:443")
            ),
            "run `cdnctl deploy dist --delete --connect-to :443:10.0.0.1:443` again to continue"
        );
    }

    #[test]
    fn another_command_keeps_the_stack_and_account() {
        assert_eq!(
            complete_with(
                "`cdnctl up` deletes it; run `cdnctl up --adopt` first",
                &args("status --env-file prod.env --tags=a=b --format json --region eu-west-1")
            ),
            "`cdnctl up --env-file prod.env --tags=a=b --region eu-west-1` deletes it; run `cdnctl up --env-file prod.env --tags=a=b --region eu-west-1 --adopt` first"
        );
        let spaced: Vec<String> = ["status", "--profile", "my profile"].map(String::from).to_vec();
        assert_eq!(
            complete_with("see `cdnctl up --help`", &spaced),
            "see `cdnctl up --profile 'my profile' --help`"
        );
        assert_eq!(complete_with("no command here", &args("up")), "no command here");
    }
}

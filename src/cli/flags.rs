//! The settings' flags, built from the table in `settings::defs`: one
//! clap argument per setting that has a flag, with its variable (`env`),
//! help, value name, usual values and default. Only what the command line
//! gave is kept as a flag (`Flags`); the resolver reads the variables.

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches};

use crate::settings::defs::{self, expand, Def, Group};
use crate::settings::Flags;

/// The stack settings' flags (`--bucket-name`, …), which override the
/// variables of the same name.
pub type SettingsArgs = SettingFlags<{ Group::Stack as u8 }>;
/// `sync`'s own settings' flags.
pub type SyncSettingsArgs = SettingFlags<{ Group::Sync as u8 }>;

/// The flags of one group of settings (a `Group` as `u8`), built from the
/// table in `settings::defs`: each with its variable (`env`), help, value
/// name, usual values and default. It keeps what the command line gave;
/// the variables, which a `.env` may set too, the settings resolver reads.
#[derive(Debug, Clone, Default)]
pub struct SettingFlags<const GROUP: u8>(pub Flags);

impl<const GROUP: u8> SettingFlags<GROUP> {
    fn defs() -> impl Iterator<Item = &'static Def> {
        defs::DEFS.iter().filter(|d| d.group as u8 == GROUP && d.flag.is_some())
    }
}

impl<const GROUP: u8> std::ops::Deref for SettingFlags<GROUP> {
    type Target = Flags;

    fn deref(&self) -> &Flags {
        &self.0
    }
}

/// A setting's flag, as its definition says.
fn flag(def: &'static Def) -> Arg {
    let long = def.long().expect("a setting with a flag");
    let arg = Arg::new(long)
        .long(long)
        .value_name(def.value_name)
        .help(expand(def.help))
        .action(ArgAction::Set)
        .value_parser(Listed(def.values))
        .env(def.env)
        .hide_env_values(true);
    match def.group {
        Group::Aws => arg.global(true),
        Group::Stack => arg.help_heading("Settings"),
        // Stack settings' defaults are in the table after the flags.
        Group::Sync => arg.help_heading("Settings").default_value(def.default),
    }
}

impl<const GROUP: u8> Args for SettingFlags<GROUP> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        Self::defs().fold(cmd, |cmd, def| cmd.arg(flag(def)))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl<const GROUP: u8> FromArgMatches for SettingFlags<GROUP> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for def in Self::defs() {
            let id = def.long().expect("a setting with a flag");
            // Only what the command line gave: clap's `env` reads the
            // variable too, but before the `.env` file is loaded.
            if matches.value_source(id) == Some(ValueSource::CommandLine) {
                if let Some(value) = matches.get_one::<String>(id) {
                    self.0.set(def.setting, value.clone());
                }
            }
        }
        Ok(())
    }
}

/// A setting's usual values, for `--help` and shell completion, while any
/// value passes through to `settings`, which checks it with the same
/// one-line error as when it comes from the environment. Never an error
/// here: clap parses the variable too, and a variable the command does not
/// use must not stop it.
#[derive(Clone)]
struct Listed(&'static [&'static str]);

impl clap::builder::TypedValueParser for Listed {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        Ok(value.to_string_lossy().into_owned())
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        if self.0.is_empty() {
            return None;
        }
        Some(Box::new(self.0.iter().map(|v| clap::builder::PossibleValue::new(*v))))
    }
}

//! `orgsync sandbox`: local stand-ins for the systems, for trying orgsync and for benchmarks.

use crate::ExitStatus;
use std::path::PathBuf;

use anyhow::Context;

use orgsync_core::config::ScimGroupsConfig;
use orgsync_sandbox::generate::{GenerateOptions, Generated, generate, write};
use orgsync_sandbox::serve::{Faults, serve_forever};
use orgsync_sandbox::{afas, google, manusplus, recruitee, revolut, scim};

/// Arguments of `sandbox`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: SandboxCommand,
}

/// Sandbox subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SandboxCommand {
    /// Write a configuration, a source export and a target workspace with realistic churn.
    Generate {
        /// Number of people in the source.
        #[arg(long, default_value_t = 1000)]
        people: usize,
        /// Directory to write into (created if needed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Random seed: the same seed gives the same files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The day the data is "as of" (YYYY-MM-DD): new hires start around it, leavers ended
        /// before it. Plan with the same `--at`.
        #[arg(long, value_name = "DATE")]
        today: Option<jiff::civil::Date>,
    },
    /// Serve an AFAS Profit emulator (GetConnector, metainfo, UpdateConnector) with generated
    /// people, until interrupted.
    Afas {
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 8401)]
        port: u16,
        #[command(flatten)]
        data: DataArgs,
        /// The token it accepts (put the same in the variable `source.token` names).
        #[arg(long, default_value = "sandbox-token")]
        token: String,
        /// The GetConnector's id.
        #[arg(long, default_value = "orgsync_employees")]
        connector: String,
        /// Also write a configuration for this emulator and a SCIM target into DIR.
        #[arg(long, value_name = "DIR")]
        config_out: Option<PathBuf>,
        /// The SCIM base URL that configuration points at (the `sandbox scim` emulator's by
        /// default; a local scim2-server is `http://127.0.0.1:8080/v2`).
        #[arg(long, default_value = "http://127.0.0.1:8402/scim/v2")]
        scim_url: String,
        /// Write the configuration for an empty target: no community mappings (every location
        /// is created) and unmapped functions created.
        #[arg(long)]
        empty_target: bool,
        #[command(flatten)]
        faults: Faults,
    },
    /// Serve a Recruitee emulator (candidates, placements, stages, profile fields) with
    /// generated candidates, about a third of them hired, until interrupted.
    Recruitee {
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 8406)]
        port: u16,
        /// Number of candidates.
        #[arg(long, default_value_t = 60)]
        people: usize,
        /// Random seed: the same seed gives the same candidates.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The day the data is "as of" (YYYY-MM-DD): hires fall in the 60 days before it.
        #[arg(long, value_name = "DATE")]
        today: Option<jiff::civil::Date>,
        /// The bearer token it accepts (put the same in the variable `source.token` names).
        #[arg(long, default_value = "sandbox-token")]
        token: String,
        /// Also write a configuration for this emulator and an AFAS applicants target into DIR
        /// (then `git init` it: the badges live in its git notes).
        #[arg(long, value_name = "DIR")]
        config_out: Option<PathBuf>,
        /// The AFAS base URL that configuration points at (the `sandbox afas` emulator's by
        /// default).
        #[arg(long, default_value = "http://127.0.0.1:8401/ProfitRestServices")]
        afas_url: String,
        #[command(flatten)]
        faults: Faults,
    },
    /// Serve a Google Workspace emulator (Directory API users and org units, and a token URL
    /// that verifies the service account's JWT) with generated people, until interrupted.
    Google {
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 8403)]
        port: u16,
        #[command(flatten)]
        data: DataArgs,
        /// A service account key file (JSON) to accept; default: a key pair made now.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// Also write a configuration (google → file target), the workspace and the key file
        /// (under DIR/.secrets/, git-ignored) into DIR.
        #[arg(long, value_name = "DIR")]
        config_out: Option<PathBuf>,
        #[command(flatten)]
        google: google::GoogleFaults,
        #[command(flatten)]
        faults: Faults,
    },
    /// Serve a ManusPlus emulator (the `manusplus` source's documented defaults) with generated
    /// people, until interrupted.
    Manusplus {
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 8405)]
        port: u16,
        #[command(flatten)]
        data: DataArgs,
        /// The data service user's password it accepts (user `orgsync-data`).
        #[arg(long, default_value = "sandbox-password")]
        password: String,
        /// Also write a configuration (manusplus → file target) and the workspace into DIR.
        #[arg(long, value_name = "DIR")]
        config_out: Option<PathBuf>,
        #[command(flatten)]
        settings: manusplus::ManusPlusSettings,
        #[command(flatten)]
        faults: Faults,
    },
    /// Serve a SCIM 2.0 emulator seeded with the generated workspace, until interrupted.
    Scim {
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 8402)]
        port: u16,
        #[command(flatten)]
        data: DataArgs,
        /// Start with no Users and no Groups.
        #[arg(long)]
        empty: bool,
        /// The bearer token it accepts.
        #[arg(long, default_value = "sandbox-token")]
        token: String,
        #[command(flatten)]
        faults: Faults,
    },
    /// Serve a Revolut Business team-members emulator (an owner and foreign members, some
    /// sharing a `created_at`), until interrupted.
    Revolut {
        /// Port on 127.0.0.1 (0: any free port).
        #[arg(long, default_value_t = 8404)]
        port: u16,
        #[command(flatten)]
        data: DataArgs,
        /// Foreign members to seed (people no HR system knows), in threes sharing a
        /// `created_at`.
        #[arg(long, default_value_t = 5)]
        foreign: usize,
        /// The bearer token it accepts (put the same in the variable `target.token` names).
        #[arg(long, default_value = "sandbox-token")]
        token: String,
        /// Also write a configuration into DIR: the generated people as a file source
        /// (`source.json`) → this emulator. Make DIR a git repository before applying: the
        /// apply records there say which members orgsync manages.
        #[arg(long, value_name = "DIR")]
        config_out: Option<PathBuf>,
        #[command(flatten)]
        faults: Faults,
    },
}

/// The generated organisation an emulator serves.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// Number of people.
    #[arg(long, default_value_t = 300)]
    people: usize,
    /// Random seed (the same as for `sandbox generate` gives the same people).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The day the data is "as of" (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    today: Option<jiff::civil::Date>,
}

impl DataArgs {
    fn generate(&self) -> (GenerateOptions, Generated) {
        let mut opts = GenerateOptions::new(self.people, self.seed);
        if let Some(today) = self.today {
            opts.today = today;
        }
        let generated = generate(&opts);
        (opts, generated)
    }
}

fn bind(port: u16) -> anyhow::Result<std::net::TcpListener> {
    std::net::TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))
}

/// `yaml` with the allowance of a first sync of `people` into an emulator that starts empty
/// (`safety.first_sync_invites`), as the pull request adding such a configuration would write it.
fn with_first_sync(yaml: String, people: usize) -> String {
    let limit = "  max_removals: \"20%\"\n";
    yaml.replacen(
        limit,
        &format!(
            "{limit}  # A first sync of everyone into an empty target is allowed here (reviewed, like any change).\n  first_sync_invites: {}\n",
            people.max(100)
        ),
        1,
    )
}

/// The generator's configuration, pointed at the emulators.
fn api_config(g: &Generated, afas_url: &str, connector: &str, scim_url: &str) -> String {
    let files = "source:\n  kind: file\n  path: source.json   # orgsync's default column names: id, email, first_name, …\ntarget:\n  kind: file\n  path: workspace.json\n";
    let apis = format!(
        "source:\n  kind: afas\n  environment: sandbox\n  base_url: {afas_url}\n  token: ${{env:AFAS_TOKEN}}\n  connector: {connector}\n  page_size: 100\ntarget:\n  kind: scim\n  base_url: {scim_url}\n  token: ${{env:SCIM_TOKEN}}\n"
    );
    with_first_sync(g.orgsync_yaml.replace(files, &apis), g.source.persons.len())
}
/// The generator's files with `source` replaced and every `"<id>"` in the community and function
/// mappings renamed with `community`/`function`, written into `dir` with the workspace.
fn write_api_config(
    dir: &std::path::Path,
    g: &Generated,
    source_yaml: &str,
    community: impl Fn(&str) -> String,
    function: impl Fn(&str) -> String,
) -> std::io::Result<()> {
    let files = "source:\n  kind: file\n  path: source.json   # orgsync's default column names: id, email, first_name, …\n";
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("orgsync.yaml"),
        g.orgsync_yaml.replace(files, source_yaml),
    )?;
    let rename =
        |text: &str, groups: &[orgsync_core::model::SourceGroup], new: &dyn Fn(&str) -> String| {
            let mut text = text.to_owned();
            for group in groups {
                let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
                text = text
                    .replace(
                        &format!("source: {}", quoted(&group.id)),
                        &format!("source: {}", quoted(&new(&group.id))),
                    )
                    .replace(
                        &format!("[{}", quoted(&group.id)),
                        &format!("[{}", quoted(&new(&group.id))),
                    )
                    .replace(
                        &format!(", {}", quoted(&group.id)),
                        &format!(", {}", quoted(&new(&group.id))),
                    );
            }
            text
        };
    std::fs::write(
        dir.join("communities.yaml"),
        rename(&g.communities_yaml, &g.source.communities, &community),
    )?;
    std::fs::write(
        dir.join("functions.yaml"),
        rename(&g.functions_yaml, &g.source.functions, &function),
    )?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("workspace.json"))?);
    orgsync_core::model::write_workspace(&mut w, &g.workspace)?;
    std::io::Write::flush(&mut w)
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitStatus> {
    match args.command {
        SandboxCommand::Generate {
            people,
            out,
            seed,
            today,
        } => {
            let mut opts = GenerateOptions::new(people, seed);
            if let Some(today) = today {
                opts.today = today;
            }
            let generated = generate(&opts);
            write(&out, &generated)
                .with_context(|| format!("cannot write into {}", out.display()))?;
            super::err(&format!(
                "Wrote a sandbox of {people} people (as of {}) to {}. Try: orgsync plan -C {} --at {}\n",
                opts.today,
                out.display(),
                out.display(),
                opts.today
            ));
            Ok(ExitStatus::Success)
        }
        SandboxCommand::Afas {
            port,
            data,
            token,
            connector,
            config_out,
            scim_url,
            empty_target,
            faults,
        } => {
            let (opts, generated) = data.generate();
            let listener = bind(port)?;
            let url = format!("http://{}{}", listener.local_addr()?, afas::BASE_PATH);
            if let Some(dir) = &config_out {
                let write_config = || -> std::io::Result<()> {
                    std::fs::create_dir_all(dir)?;
                    std::fs::write(
                        dir.join("orgsync.yaml"),
                        api_config(&generated, &url, &connector, &scim_url),
                    )?;
                    let (communities, functions) = if empty_target {
                        (
                            "communities: []\n".to_owned(),
                            "functions:\n  unmapped: create\n".to_owned(),
                        )
                    } else {
                        (
                            generated.communities_yaml.clone(),
                            generated.functions_yaml.clone(),
                        )
                    };
                    std::fs::write(dir.join("communities.yaml"), communities)?;
                    std::fs::write(dir.join("functions.yaml"), functions)
                };
                write_config().with_context(|| format!("cannot write into {}", dir.display()))?;
            }
            let rows = afas::AfasData::from_snapshot(&connector, &generated.source);
            super::err(&format!(
                "AFAS Profit emulator: {url} (GetConnector {connector}: {} rows, {} people as of {}).\n\
                 Token: export AFAS_TOKEN={token}{}\nPress Ctrl-C to stop.\n",
                rows.rows.len(),
                opts.people,
                opts.today,
                config_out
                    .as_ref()
                    .map(|d| format!(
                        "\nConfiguration: {} (try: orgsync plan -C {} --at {})",
                        d.display(),
                        d.display(),
                        opts.today
                    ))
                    .unwrap_or_default(),
            ));
            serve_forever(afas::router(rows, &token, faults), listener)?;
            Ok(ExitStatus::Success)
        }
        SandboxCommand::Recruitee {
            port,
            people,
            seed,
            today,
            token,
            config_out,
            afas_url,
            faults,
        } => {
            let today = today.unwrap_or_else(|| jiff::Zoned::now().date());
            let data = recruitee::RecruiteeData::generate(people, seed, today);
            let listener = bind(port)?;
            let url = format!("http://{}", listener.local_addr()?);
            if let Some(dir) = &config_out {
                std::fs::create_dir_all(dir)
                    .and_then(|()| {
                        std::fs::write(
                            dir.join("orgsync.yaml"),
                            recruitee::config_yaml(&url, &data.company_id, &afas_url),
                        )
                    })
                    .with_context(|| format!("cannot write into {}", dir.display()))?;
            }
            super::err(&format!(
                "Recruitee emulator: {url}/c/{} ({people} candidates, {} hired, as of {today}).\n\
                 Token: export RECRUITEE_TOKEN={token}{}\nPress Ctrl-C to stop.\n",
                data.company_id,
                data.hired().len(),
                config_out
                    .as_ref()
                    .map(|d| format!(
                        "\nConfiguration: {} (an AFAS applicants target at {afas_url}; run `git init` and commit it, then: orgsync plan -C {})",
                        d.display(),
                        d.display()
                    ))
                    .unwrap_or_default(),
            ));
            serve_forever(recruitee::router(data.shared(), &token, faults), listener)?;
            Ok(ExitStatus::Success)
        }
        SandboxCommand::Google {
            port,
            data,
            key_file,
            config_out,
            google: settings,
            faults,
        } => {
            let (opts, generated) = data.generate();
            let key = match &key_file {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    google::SandboxKey::from_json(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                }
                None => google::SandboxKey::generate(),
            };
            let listener = bind(port)?;
            let url = format!("http://{}", listener.local_addr()?);
            let token_url = format!("{url}/token");
            let mut note = String::new();
            if let Some(dir) = &config_out {
                let source = format!(
                    "source:\n  kind: google\n  credentials: ${{env:GOOGLE_SERVICE_ACCOUNT}}   # the key file's path (or its JSON)\n  subject: {}\n  base_url: {url}\n  token_url: {token_url}\n  queries_per_minute: {}\n",
                    google::ADMIN,
                    if settings.quota_per_minute > 0 {
                        settings.quota_per_minute
                    } else {
                        2400
                    },
                );
                let names = |groups: &[orgsync_core::model::SourceGroup], id: &str| {
                    groups
                        .iter()
                        .find(|g| g.id == id)
                        .map_or_else(|| id.to_owned(), |g| g.name.clone())
                };
                let write_all = || -> std::io::Result<std::path::PathBuf> {
                    write_api_config(
                        dir,
                        &generated,
                        &source,
                        |id| google::org_unit_path(&names(&generated.source.communities, id)),
                        |id| names(&generated.source.functions, id),
                    )?;
                    let secrets = dir.join(".secrets");
                    std::fs::create_dir_all(&secrets)?;
                    std::fs::write(dir.join(".gitignore"), ".secrets/\n")?;
                    let key_path = secrets.join("google-service-account.json");
                    std::fs::write(&key_path, key.key_file(&token_url))?;
                    std::path::absolute(key_path)
                };
                let key_path =
                    write_all().with_context(|| format!("cannot write into {}", dir.display()))?;
                note = format!(
                    "\nKey: export GOOGLE_SERVICE_ACCOUNT={}\nConfiguration: {} (try: orgsync plan -C {} --at {})",
                    key_path.display(),
                    dir.display(),
                    dir.display(),
                    opts.today
                );
            }
            let users = google::GoogleData::from_snapshot(&generated.source, opts.today);
            super::err(&format!(
                "Google Workspace emulator: {url} (Directory API; token URL {token_url}; {} users, as of {}; subject {}).{note}\nPress Ctrl-C to stop.\n",
                users.users.len(),
                opts.today,
                google::ADMIN,
            ));
            serve_forever(google::router(users, &key, faults, settings), listener)?;
            Ok(ExitStatus::Success)
        }
        SandboxCommand::Manusplus {
            port,
            data,
            password,
            config_out,
            settings,
            faults,
        } => {
            let (opts, generated) = data.generate();
            let listener = bind(port)?;
            let url = format!("http://{}/{}", listener.local_addr()?, manusplus::CLIENT);
            let mut note = String::new();
            if let Some(dir) = &config_out {
                let source = format!(
                    "source:\n  kind: manusplus\n  base_url: {url}\n  username: {}\n  password: ${{env:MANUS_PASSWORD}}\n  node: {}\n  community_level: 1\n",
                    manusplus::USERNAME,
                    manusplus::ROOT_NODE,
                );
                write_api_config(
                    dir,
                    &generated,
                    &source,
                    manusplus::community_node,
                    manusplus::ManusPlusData::function_id,
                )
                .with_context(|| format!("cannot write into {}", dir.display()))?;
                note = format!(
                    "\nConfiguration: {} (try: orgsync plan -C {} --at {})",
                    dir.display(),
                    dir.display(),
                    opts.today
                );
            }
            let served = manusplus::ManusPlusData::from_snapshot(&generated.source);
            super::err(&format!(
                "ManusPlus emulator: {url} (node {}; {} employees, {} contracts, as of {}).\nPassword of {}: export MANUS_PASSWORD={password}{note}\nPress Ctrl-C to stop.\n",
                manusplus::ROOT_NODE,
                served.employees.len(),
                served.contracts.len(),
                opts.today,
                manusplus::USERNAME,
            ));
            serve_forever(
                manusplus::router(served, &password, faults, settings),
                listener,
            )?;
            Ok(ExitStatus::Success)
        }
        SandboxCommand::Scim {
            port,
            data,
            empty,
            token,
            faults,
        } => {
            let store = if empty {
                scim::ScimData::new()
            } else {
                let (_, generated) = data.generate();
                scim::ScimData::from_workspace(&generated.workspace, &ScimGroupsConfig::default())
            };
            let listener = bind(port)?;
            let url = format!("http://{}{}", listener.local_addr()?, scim::BASE_PATH);
            super::err(&format!(
                "SCIM 2.0 emulator: {url} ({} users).\nToken: export SCIM_TOKEN={token}\nPress \
                 Ctrl-C to stop.\n",
                store.users()
            ));
            serve_forever(scim::router(store, &token, faults), listener)?;
            Ok(ExitStatus::Success)
        }
        SandboxCommand::Revolut {
            port,
            data,
            foreign,
            token,
            config_out,
            faults,
        } => {
            let store = revolut::RevolutData::seeded(foreign);
            let listener = bind(port)?;
            let url = format!("http://{}{}", listener.local_addr()?, revolut::BASE_PATH);
            if let Some(dir) = &config_out {
                let (opts, generated) = data.generate();
                write_revolut_config(dir, &generated, &url)
                    .with_context(|| format!("cannot write into {}", dir.display()))?;
                super::err(&format!(
                    "Configuration: {} ({} people as of {}; try: orgsync plan -C {} --at {}).\n",
                    dir.display(),
                    opts.people,
                    opts.today,
                    dir.display(),
                    opts.today
                ));
            }
            super::err(&format!(
                "Revolut Business emulator: {url} ({} members).\nToken: export REVOLUT_TOKEN={token}\nPress Ctrl-C to stop.\n",
                store.len()
            ));
            serve_forever(revolut::router(store, &token, faults), listener)?;
            Ok(ExitStatus::Success)
        }
    }
}

/// A configuration for the Revolut emulator at `url`: the generated people as a file source,
/// roles by function with `Member` as the fallback.
pub fn revolut_config(url: &str) -> String {
    format!(
        "\
# Written by `orgsync sandbox revolut --config-out`: the generated people → the Revolut emulator.
version: 1
source:
  kind: file
  path: source.json
target:
  kind: revolut
  base_url: {url}
  token: ${{env:REVOLUT_TOKEN}}
  default_role: Member
identity:
  match: [external_id, email]
  # Members invited by hand before orgsync are taken over by e-mail (the Revolut behaviour).
  adopt_unmanaged: true
policy:
  timezone: Europe/Amsterdam
  # Revolut cannot write names or addresses; roles are the function groups.
  managed_fields: [email, function_groups]
safety:
  max_removals: \"20%\"
protected:
  - email: owner@acme-business.example
test_locations: [\"Test*\", \"Temp*\"]
"
    )
}

/// The functions configuration of [`revolut_config`]: every function lands in the `Member` role.
pub const REVOLUT_FUNCTIONS: &str = "\
# Source functions → Revolut roles (by name; GET /roles lists them). Roles cannot be created
# through the API: map onto existing ones.
functions:
  from: function
  unmapped: { fallback: Member }
  map:
    - { source: \"*\", target: Member }
";

fn write_revolut_config(dir: &std::path::Path, g: &Generated, url: &str) -> std::io::Result<()> {
    write(dir, g)?;
    std::fs::write(
        dir.join("orgsync.yaml"),
        with_first_sync(revolut_config(url), g.source.persons.len()),
    )?;
    std::fs::write(dir.join("functions.yaml"), REVOLUT_FUNCTIONS)?;
    for stale in ["communities.yaml", "workspace.json"] {
        match std::fs::remove_file(dir.join(stale)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

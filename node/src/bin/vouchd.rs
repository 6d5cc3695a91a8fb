//! `vouchd`: the Vouch validator node. `init` creates a node home, `start` runs the
//! chain and its HTTP API; docs/OPERATING.md describes both.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use vouch_keyring::Keyring;
use vouch_node::daemon::chain::ChainApp;
use vouch_node::daemon::config::Config;
use vouch_node::daemon::dev::{self, DevKeys};
use vouch_node::daemon::home::{self, Home, InitOptions, LoadedHome};
use vouch_node::daemon::lock::HomeLock;
use vouch_node::daemon::open;
use vouch_node::daemon::producer::system_clock;
use vouch_node::daemon::run::{self, RunOptions};
use vouch_node::daemon::signals::{self, StopSignals};
use vouch_protocol::signing::ChainId;

// Under submission load, glibc's allocator took about a quarter of the node's CPU time
// and kept freed memory resident. jemalloc cut the CPU per committed attestation by
// about a quarter in the same load run (docs/BENCHMARKS.md), and it returns unused
// pages after its decay time.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts. Without a background thread, an arena
/// gives freed pages back only when a thread allocates from it again, so after a burst
/// of submissions the idle node kept them. The background thread purges pages that
/// stayed unused for 3 s.
///
/// Thread caches keep at most 16 small and 8 large freed objects a size (jemalloc's
/// defaults are 200 and 20). sled's seven I/O threads free much of its memory and then
/// sit idle, so their cached objects kept partly used pages resident. The smaller
/// caches took an idle node after a 320,000-attestation load from about 120 to about
/// 102 MB, for about 2% more CPU under load (docs/BENCHMARKS.md).
/// `_RJEM_MALLOC_CONF` in the environment overrides these.
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static JEMALLOC_OPTIONS: &[u8] =
    b"background_thread:true,dirty_decay_ms:3000,muzzy_decay_ms:0,tcache_nslots_small_max:16,tcache_nslots_large:8\0";

/// jemalloc's name for every arena at once (`MALLCTL_ARENAS_ALL` in its header).
const ALL_ARENAS: u32 = 4096;

/// Has jemalloc give the free pages of every arena back to the system now, without
/// waiting for their decay time. The engine calls it once the node turns idle, after it
/// emptied the caches.
fn release_allocator_pages() {
    let name = format!("arena.{ALL_ARENAS}.purge\0");
    let (null, no_length) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: the name ends with a NUL byte, and `purge` reads and writes no value, so
    // jemalloc touches none of the null pointers.
    let status = unsafe { tikv_jemalloc_sys::mallctl(name.as_ptr().cast(), null, no_length, null, 0) };
    if status != 0 {
        tracing::warn!(status, "jemalloc did not release its free pages");
    }
}

#[derive(Parser)]
#[command(name = "vouchd", version, about = "The Vouch validator node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a node home: config.toml, genesis.json and node_key.json.
    Init(InitArgs),
    /// Run the chain and its HTTP API until SIGINT, SIGTERM, SIGHUP or SIGQUIT.
    Start(StartArgs),
}

#[derive(Args)]
struct InitArgs {
    /// The home folder to create; it must be new or empty.
    #[arg(long, value_name = "DIR")]
    home: PathBuf,
    /// The chain id: 1 to 64 characters of a-z, 0-9 and -.
    #[arg(long, value_name = "ID")]
    chain_id: String,
    /// The validator's name in the genesis.
    #[arg(long, value_name = "NAME", default_value = "validator")]
    validator_name: String,
    /// The validator's bonded stake.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    stake: u64,
}

#[derive(Args)]
struct StartArgs {
    /// The node home; with --dev, an empty or new folder becomes a dev home.
    #[arg(long, value_name = "DIR", required_unless_present = "dev")]
    home: Option<PathBuf>,
    /// Run a single-validator development chain, in a throwaway home unless --home is given.
    #[arg(long)]
    dev: bool,
    /// Listen on this address instead of api.address, IP:PORT (port 0 picks a free port).
    #[arg(long, value_name = "IP:PORT")]
    api_addr: Option<SocketAddr>,
    /// Create the ledger again from genesis when the home's database is missing or
    /// empty; this signs heights again that this validator key already signed.
    #[arg(long)]
    recreate_ledger: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => init(args),
        Command::Start(args) => start(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr at `level` unless `RUST_LOG` is set.
fn init_logging(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).init();
}

fn now_unix_ms() -> u64 {
    (system_clock())()
}

fn init(args: InitArgs) -> anyhow::Result<()> {
    init_logging(&Config::default().log.level);
    let chain_id = ChainId::new(&args.chain_id).context("--chain-id")?;
    let home = Home::new(&args.home);
    let options = InitOptions {
        chain_id,
        validator_name: args.validator_name,
        stake: args.stake,
        genesis_time_unix_ms: now_unix_ms(),
        attesters: Vec::new(),
        node_key: None,
        config: Config::default(),
    };
    let genesis = home.init(options)?;
    let validator = &genesis.validators[0];
    println!("initialized {} for chain {}", home.dir().display(), genesis.chain_id);
    println!("  validator {} with stake {}, key {}", validator.name, validator.stake, validator.public_key);
    println!("start it with: vouchd start --home {}", home.dir().display());
    Ok(())
}

/// The home that `start` runs, the temporary folder that contains it in dev mode,
/// and the keyring of the dev keys.
struct StartHome {
    home: Home,
    throwaway: Option<tempfile::TempDir>,
    keyring: Option<PathBuf>,
}

fn start(args: StartArgs) -> anyhow::Result<()> {
    // The level comes from the home's config when it has one; a bad config is
    // reported by `load` below. Only a regular file is read here: a FIFO would block.
    let level = args
        .home
        .as_ref()
        .map(|dir| Home::new(dir).config_path())
        .filter(|path| home::check_regular_file(path).is_ok())
        .and_then(|path| Config::read(&path).ok());
    init_logging(&level.map_or_else(|| Config::default().log.level, |config| config.log.level));

    // The stop signals are handled from here on, so a signal during startup still
    // removes a throwaway dev home. They stay blocked until the receivers exist, so
    // that none is lost in between (see `signals`).
    let blocked = signals::block_stop_signals().context("blocking the stop signals during startup")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("vouchd-api").build()?;
    let mut signals = runtime.block_on(async { StopSignals::install() })?;
    drop(blocked);
    let StartHome { home, throwaway, keyring } = resolve_home(&args)?;

    if !home.is_initialized() {
        anyhow::bail!(
            "{} is not a node home (no config.toml); run `vouchd init --home {0}` first",
            home.dir().display()
        );
    }
    let lock = HomeLock::acquire(home.dir())?;
    let loaded = home.load()?;
    let address = match args.api_addr {
        Some(address) => address,
        None => loaded.config.api_address()?,
    };
    let mut options = RunOptions::from_config(&loaded.config, home.dir(), system_clock())?;
    if let Some(idle) = options.idle_release.as_mut() {
        idle.release_allocator = release_allocator_pages;
    }
    let app = open_app(&home, &loaded, args.recreate_ledger)?;

    runtime.block_on(async {
        if let Some(name) = signals.received().await {
            tracing::info!(signal = name, "shutdown requested during startup; not serving");
            return anyhow::Ok(());
        }
        let listener = run::bind(address).await?;
        let local = listener.local_addr()?;
        let height = app.tip().height.0;
        match &keyring {
            Some(keyring) => print!("{}", dev::banner(local, home.dir(), keyring, throwaway.is_some(), height)),
            None => print_started(&home, &loaded, local, height),
        }
        tracing::info!(address = %local, home = %home.dir().display(), chain_id = %loaded.genesis.chain_id, "API listening");
        run::serve(app, loaded.node_key, listener, options, signals.wait()).await?;
        anyhow::Ok(())
    })?;
    drop(lock);
    drop(throwaway);
    Ok(())
}

/// Picks the home to start: `--home`, or with `--dev` and no `--home` a new temporary
/// folder. In dev mode a home that is not initialized becomes a dev home.
fn resolve_home(args: &StartArgs) -> anyhow::Result<StartHome> {
    let (home, throwaway) = match (&args.home, args.dev) {
        (Some(dir), _) => (Home::new(dir), None),
        (None, _) => {
            let temp = tempfile::Builder::new()
                .prefix("vouchd-dev-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir()
                .context("creating the dev home")?;
            (Home::new(temp.path()), Some(temp))
        }
    };
    let mut keyring_dir = None;
    if args.dev {
        let keyring = Keyring::open_default().context("opening the CLI keyring for the dev keys")?;
        if !home.is_initialized() {
            let keys = DevKeys::from_keyring(&keyring)?;
            home.init(dev::init_options(keys, now_unix_ms()))?;
        }
        keyring_dir = Some(keyring.dir().to_owned());
    }
    Ok(StartHome { home, throwaway, keyring: keyring_dir })
}

fn print_started(home: &Home, loaded: &LoadedHome, address: SocketAddr, height: u64) {
    println!("vouchd: chain {} at height {height}", loaded.genesis.chain_id);
    println!("  API      http://{address}");
    println!("  home     {}", home.dir().display());
}

/// Opens the ledger state machine of `home`: the sled database in the configured data
/// folder, with the chain's policy limits from the genesis.
fn open_app(home: &Home, loaded: &LoadedHome, recreate: bool) -> anyhow::Result<Arc<dyn ChainApp>> {
    let app = open::open_ledger(home, loaded, recreate)?;
    let tip = app.tip();
    let data_dir = loaded.config.data_dir(home.dir());
    tracing::info!(height = %tip.height, state_root = %tip.state_root, data_dir = %data_dir.display(), "ledger opened");
    Ok(Arc::new(app))
}

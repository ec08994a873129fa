//! `helpline serve`: read back what is stored (retrying for a bounded time), wire the parts
//! together in dependency order, run until SIGTERM, then shut down gracefully: new INVITEs get
//! 503 + Retry-After, calls in progress may finish up to the drain timeout, every background
//! task stops on the one shutdown token, pending wrap-ups are stored, and the event store is
//! flushed last.

use crate::acd::service::RouterHandle;
use crate::call::CallManager;
use crate::config::Settings;
use crate::diag::Diagnostic;
use crate::events::now_ms;
use crate::metrics::Metrics;
use crate::sip::auth_server::Authenticator;
use crate::sip::endpoint;
use crate::sip::registrar::{Binding, CredentialLookup, Registrar, RegistrarConfig};
use crate::sip::transaction::{Peer, Transport};
use crate::store::{self, EventWriter, Owner, Store, WriterConfig};
use crate::users::{self, Directory};
use anyhow::Context;
use registrations::{OrderedWriter, WriteBackoff};
use startup::{retry, RetryPolicy};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

mod registrations;
mod startup;

/// Validate every operator-written file the server would load.
pub fn check_files(settings: &Settings) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    if let Some(path) = &settings.paths.users {
        if let Err(d) = users::load(path, &settings.sip.realm) {
            diags.extend(d);
        }
    }
    match crate::acd::config::load_files(&settings.paths.queues, settings.paths.agents.as_deref()) {
        Ok(loaded) => diags.extend(check_dialplans(settings, &loaded.config)),
        Err(d) => diags.extend(d),
    }
    diags
}

/// Check every dialplan against the prompts on disk, the routing config and the allow-list.
fn check_dialplans(settings: &Settings, acd: &crate::acd::config::AcdConfig) -> Vec<Diagnostic> {
    load_dialplans(settings, acd, 1).err().unwrap_or_default()
}

/// Load (and check) the dialplans as a versioned set.
fn load_dialplans(
    settings: &Settings,
    acd: &crate::acd::config::AcdConfig,
    version: u64,
) -> Result<crate::ivr::set::DialplanSet, Vec<Diagnostic>> {
    use crate::ivr::check::CheckContext;
    let prompts =
        crate::ivr::prompts::PromptSet::from_dir(&settings.paths.prompts).map_err(|e| {
            vec![Diagnostic::file(
                &settings.paths.prompts,
                format!("cannot read the prompt folder: {e}; set [paths] prompts"),
            )]
        })?;
    let transfer_allow =
        crate::ivr::pattern::AllowList::parse(&settings.sip.transfer_allow).unwrap_or_default();
    let cx = CheckContext {
        prompts: &prompts,
        queues: acd.queues.iter().map(|q| q.name.clone()).collect(),
        skills: acd.skills.iter().map(|s| s.name.clone()).collect(),
        transfer_allow,
    };
    crate::ivr::set::DialplanSet::load(&settings.paths.dialplans, &cx, version)
}

/// Live reload: on SIGHUP the dialplans are loaded and checked again; new calls take the new set,
/// calls in the IVR finish on theirs. A set that fails the check is refused whole, logged with
/// `file:line:column` and counted (`helpline_config_reload_errors_total{kind="dialplan"}`).
/// Runs until `stop`.
fn spawn_reload_on_sighup(
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    live: Arc<crate::ivr::set::LiveDialplans>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                return;
            };
            loop {
                tokio::select! {
                    got = hup.recv() => if got.is_none() { return },
                    _ = stop.cancelled() => return,
                }
                reload(&settings, &metrics, &live);
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (settings, metrics, live);
            stop.cancelled().await;
        }
    })
}

fn reload(settings: &Settings, metrics: &Metrics, live: &crate::ivr::set::LiveDialplans) {
    let candidate =
        crate::acd::config::load_files(&settings.paths.queues, settings.paths.agents.as_deref())
            .and_then(|acd| load_dialplans(settings, &acd.config, live.next_version()));
    // A refused set is kept as the supervisors' "last reload error" and counted.
    match live.install(candidate) {
        Ok(version) => tracing::info!(version, "dialplans reloaded"),
        Err(diags) => {
            metrics
                .config_reload_errors
                .with_label_values(&["dialplan"])
                .inc();
            for d in &diags {
                tracing::error!(problem = %d, "dialplan reload refused; the running plans stay");
            }
        }
    }
}

/// What the IVR path needs from the parts built before it.
struct IvrDeps {
    router: RouterHandle,
    crm: crate::crm::Crm,
    desk: Arc<crate::desk::Desk>,
}

/// The RTP engine, the prompts in memory, the dialplans and the CRM lookup for the IVR path.
fn ivr_parts(
    settings: &Settings,
    acd: &crate::acd::config::AcdConfig,
    deps: IvrDeps,
) -> anyhow::Result<crate::call::IvrParts> {
    let plans =
        load_dialplans(settings, acd, 1).map_err(|d| anyhow::anyhow!(crate::diag::render(&d)))?;
    let (prompts, bad) = crate::media::PromptLibrary::load_dir(&settings.paths.prompts, "en")
        .map_err(|e| anyhow::anyhow!("prompts: {e}"))?;
    for e in &bad {
        tracing::warn!(error = %e, "prompt not loaded");
    }
    let advertised: std::net::IpAddr = settings
        .media
        .advertised_address
        .as_deref()
        .unwrap_or(&settings.sip.advertised_host)
        .parse()
        .context("[media] advertised_address (or [sip] advertised_host) must be an IP address")?;
    let bind_ip = if settings.sip.udp.ip().is_unspecified() {
        settings.sip.udp.ip()
    } else {
        advertised
    };
    let media = crate::media::MediaEngine::start(crate::media::EngineConfig {
        bind_ip,
        advertised_ip: Some(advertised),
        port_min: settings.media.rtp_port_min,
        port_max: settings.media.rtp_port_max,
        media_timeout: Duration::from_secs(settings.media.media_timeout_secs.max(1)),
        hold_timeout: Duration::from_secs(settings.media.hold_timeout_secs),
        ..Default::default()
    })
    .context("starting the media engine")?;
    Ok(crate::call::IvrParts {
        media,
        prompts: Arc::new(prompts),
        dialplans: Arc::new(crate::ivr::set::LiveDialplans::new(plans)),
        crm: Some(deps.crm),
        router: Some(deps.router),
        desk: Some(deps.desk),
        webrtc: webrtc_gateway(settings, advertised),
        recording: crate::call::CallRecording {
            dir: settings.media.recordings_dir.clone(),
            queues: acd
                .queues
                .iter()
                .filter(|q| q.record)
                .map(|q| q.name.clone())
                .collect(),
        },
        max_call: acd
            .queues
            .iter()
            .filter_map(|q| Some((q.name.clone(), Duration::from_millis(q.max_call_ms?))))
            .collect(),
    })
}

/// Wrap-ups never sent (page closed for good) are stored without a disposition after an hour.
/// Runs until `stop`.
fn spawn_draft_flush(desk: Arc<crate::desk::Desk>, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.cancelled() => return,
            }
            desk.flush_stale_drafts(Duration::from_secs(3600)).await;
        }
    })
}

/// The WebRTC gateway for browser agents (none, with a warning, if it cannot start).
fn webrtc_gateway(
    settings: &Settings,
    advertised: std::net::IpAddr,
) -> Option<Arc<crate::webrtc::WebRtcGateway>> {
    let m = &settings.media;
    let cfg = crate::webrtc::GatewayConfig::new(
        m.webrtc_bind.unwrap_or(advertised),
        advertised,
        m.webrtc_port_min,
        m.webrtc_port_max,
    );
    match crate::webrtc::WebRtcGateway::new(cfg) {
        Ok(g) => Some(Arc::new(g)),
        Err(e) => {
            tracing::warn!(error = %e, "WebRTC gateway not started: agents can answer on SIP phones only");
            None
        }
    }
}

/// The database side of a start: connected and migrated, this run registered (its node id and
/// incarnation), the event writer running as this run, the calls earlier runs of this node left
/// open closed, and what routing needs read back. Every read is retried for
/// `[server] startup_retry_secs`, then the start stops naming what could not be read.
struct Restored {
    store: Store,
    owner: Owner,
    writer: EventWriter,
    bindings: Vec<store::Binding>,
    agent_states: Vec<store::AgentState>,
}

async fn restore(settings: &Settings, directory: &Directory) -> anyhow::Result<Restored> {
    let policy = RetryPolicy::startup(Duration::from_secs(settings.server.startup_retry_secs));
    let url = &settings.database.url;
    let store = retry(
        &format!("database {} (connect and migrate)", redact(url)),
        policy,
        || store::migrate(url),
    )
    .await?;
    if let Some(path) = &settings.paths.users {
        let entries = users::load(path, &settings.sip.realm)
            .map_err(|d| anyhow::anyhow!(crate::diag::render(&d)))?;
        let listed: Vec<String> = entries.iter().map(|u| u.username.clone()).collect();
        for u in entries {
            let stored = u.to_stored(&settings.sip.realm);
            retry(&format!("storing user {}", u.username), policy, || {
                store.upsert_user_hashed(&stored, now_ms())
            })
            .await?;
            directory.insert(u);
        }
        // Users taken out of the file lose web login and every session.
        let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
        let retired = retry(
            "disabling users removed from the users file",
            policy,
            || store.retire_unlisted_users(&listed, now_ms()),
        )
        .await?;
        if !retired.is_empty() {
            tracing::warn!(users = ?retired, "users no longer in the users file: disabled and logged out");
        }
    }
    let node_id = settings.server.node_id;
    let owner = retry(
        &format!("registering this run of node {node_id} (table incarnations)"),
        policy,
        || store.begin_incarnation(node_id, now_ms()),
    )
    .await?;
    tracing::info!(
        node_id,
        incarnation = owner.incarnation,
        "this run's calls are stored as its own"
    );
    let writer = EventWriter::start(
        &store,
        WriterConfig {
            queue_bound: settings.database.queue_bound,
            spill_dir: settings.database.spill_dir.clone(),
            owner: Some(owner),
            ..WriterConfig::default()
        },
    )
    .context("starting the event writer")?;
    // Events an earlier run spilled are stored first, so a call that did end is not taken
    // for lost.
    if let Err(e) = writer.handle().flush(policy.budget).await {
        tracing::warn!(error = %e, "spilled events not all stored before closing lost calls");
    }
    let lost = retry(
        "calls left open by earlier runs (table calls)",
        policy,
        || store.close_lost_calls(owner, now_ms()),
    )
    .await?;
    for c in &lost.calls {
        tracing::warn!(call_id = %c.call_id, incarnation = c.incarnation, last_event_ms = c.last_event_ms,
            "call left open by an earlier run of this node: stored as ended, cause server_lost");
    }
    for a in &lost.agents {
        tracing::info!(agent = %a.agent_id, call_id = %a.call_id, was = %a.was, now = a.state,
            "agent taken out of a lost call");
    }
    // Contact numbers stored by earlier normalisation rules are keyed again, so they still pop.
    let region = settings.sip.default_region.clone();
    let renumbered = retry("contact numbers (table contact_phones)", policy, || {
        store.renormalise_phones(|n| crate::phone::normalise(n, &region))
    })
    .await?;
    if renumbered > 0 {
        tracing::info!(renumbered, "contact numbers normalised again");
    }
    let now = now_ms();
    let bindings = retry("stored registrations (table registrations)", policy, || {
        store.all_live_bindings(now)
    })
    .await?;
    let agent_states = retry("stored agent states (table agent_state)", policy, || {
        store.agent_states()
    })
    .await?;
    Ok(Restored {
        store,
        owner,
        writer,
        bindings,
        agent_states,
    })
}

/// The background tasks, each stopping on the one shutdown token; awaited at shutdown.
#[derive(Default)]
struct Background(Vec<(&'static str, JoinHandle<()>)>);

impl Background {
    fn add(&mut self, name: &'static str, task: JoinHandle<()>) {
        self.0.push((name, task));
    }

    /// Wait for every task to stop (each has `within`; one that does not is aborted).
    async fn join(self, within: Duration) {
        for (name, mut task) in self.0 {
            match tokio::time::timeout(within, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(task = name, error = %e, "background task failed"),
                Err(_) => {
                    tracing::warn!(task = name, "background task did not stop in time; aborted");
                    task.abort();
                }
            }
        }
    }
}

/// Wire the server in dependency order (the shutdown signal and channels, then the parts, then
/// the listeners), serve until SIGTERM, then shut down: calls drained, every background task
/// stopped, pending wrap-ups stored, the event store flushed last.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let metrics = Metrics::new();
    let stop = CancellationToken::new();
    let mut background = Background::default();

    // The database: everything stored is read back (or the start stops) before any part runs.
    let directory = Arc::new(Directory::default());
    let Restored {
        store,
        owner,
        writer,
        bindings,
        agent_states,
    } = restore(&settings, &directory).await?;
    let events = writer.handle();

    // Parts, each built from those before it.
    let mut acd =
        crate::acd::config::load_files(&settings.paths.queues, settings.paths.agents.as_deref())
            .map_err(|d| anyhow::anyhow!(crate::diag::render(&d)))?;
    crate::roster::use_display_names(&mut acd.config.agents, &directory);
    for w in crate::roster::config_warnings(&settings) {
        tracing::warn!("{w}");
    }
    let router = crate::acd::service::spawn(
        acd.config.clone(),
        events.clone(),
        crate::acd::service::records(&agent_states),
    );
    let crm = crate::crm::Crm::new(
        store.clone(),
        settings.crm.clone(),
        &settings.sip.default_region,
    )
    .with_agent_names(crate::roster::display_names(&acd.config.agents));
    if settings.crm.demo_data {
        match crate::crm::demo::load_if_empty(&store, now_ms()).await {
            Ok(true) => tracing::info!("CRM was empty: demo contacts, tickets and articles loaded"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "demo data not loaded"),
        }
    }
    let desk = crate::desk::Desk::new(
        crm.clone(),
        router.clone(),
        Duration::from_secs(settings.crm.agent_grace_secs),
        crate::desk::DeskRules::from_config(&acd.config),
    );
    // The router and the desk call each other: the router's task learns the desk by message.
    router.attach_desk(desk.clone());
    let supervisor = crate::supervisor::Supervisor::start(
        &settings,
        &acd.config,
        store.clone(),
        events.clone(),
        router.clone(),
        metrics.clone(),
        Some(desk.clone()),
        stop.clone(),
    );
    background.add(
        "queue counts",
        desk.spawn_queue_counts(Duration::from_secs(2), stop.clone()),
    );
    background.add("draft flush", spawn_draft_flush(desk.clone(), stop.clone()));
    background.add(
        "CRM outbox",
        crate::crm::outbox::spawn_outbox(crm.clone(), stop.clone().cancelled_owned()),
    );
    let ivr = ivr_parts(
        &settings,
        &acd.config,
        IvrDeps {
            router: router.clone(),
            crm,
            desk: desk.clone(),
        },
    )?;
    background.add(
        "dialplan reload",
        spawn_reload_on_sighup(
            settings.clone(),
            metrics.clone(),
            ivr.dialplans.clone(),
            stop.clone(),
        ),
    );
    let outbound = Arc::new(crate::outbound::OutboundGate::new(
        &settings,
        metrics.clone(),
        Some(store.clone()),
    ));
    let policy = RetryPolicy::startup(Duration::from_secs(settings.server.startup_retry_secs));
    let legs = retry(
        "outbound legs of the last day (table outbound_legs)",
        policy,
        || outbound.restore(),
    )
    .await?;
    tracing::info!(legs, "outbound gate counts restored");
    let manager = CallManager::new(
        settings.clone(),
        metrics.clone(),
        events.clone(),
        Some(ivr),
        outbound,
    );

    let mut registrar = Registrar::new(
        Authenticator::new(
            &settings.sip.realm,
            &rand::random::<[u8; 32]>(),
            settings.sip.nonce_ttl_secs,
        ),
        RegistrarConfig {
            min_expires: settings.sip.registration_min_expires,
            max_expires: settings.sip.registration_max_expires,
            default_expires: 3600.min(settings.sip.registration_max_expires),
        },
    );
    registrar.restore(
        bindings.iter().filter_map(from_stored),
        (now_ms() / 1000) as u64,
    );
    metrics
        .sip_registrations_active
        .set(registrar.binding_count() as i64);
    tracing::info!(
        bindings = bindings.len(),
        agent_states = agent_states.len(),
        "restored from the database"
    );
    // Agents whose phones are registered are in routing (logged in, ready).
    for b in &bindings {
        phone_seen(&router, &b.aor);
    }
    let (reg_writer, reg_task) =
        OrderedWriter::spawn(store.clone(), WriteBackoff::default(), stop.clone());
    background.add("registration writer", reg_task);

    // Listeners last: SIP, then HTTP.
    let ep = endpoint::start(
        settings.clone(),
        metrics.clone(),
        registrar,
        Arc::new(DirectoryCredentials(directory.clone())),
        registrations::sink(reg_writer, router.clone()),
        manager.clone(),
    )
    .await
    .context("starting SIP")?;
    // The manager places calls through the endpoint, which hands it new calls: set once here.
    manager.attach(ep.clone());
    {
        let ep = ep.clone();
        desk.set_phone_check(Box::new(move |agent| ep.registered_phone(agent).is_some()));
    }

    let state = crate::web::AppState {
        settings: settings.clone(),
        metrics: metrics.clone(),
        store: store.clone(),
        events: events.clone(),
        calls: manager.clone(),
        desk: Some(desk.clone()),
        supervisor: Some(supervisor),
    };
    let listener = tokio::net::TcpListener::bind(settings.http.listen)
        .await
        .with_context(|| format!("HTTP {}", settings.http.listen))?;
    tracing::info!(
        sip_udp = %settings.sip.udp, sip_tcp = %settings.sip.tcp, http = %settings.http.listen,
        database = %redact(&settings.database.url), node_id = owner.node_id,
        incarnation = owner.incarnation, "helpline serving"
    );
    let tls_handle = axum_server::Handle::<SocketAddr>::new();
    if let Some(tls) = settings.http.tls.clone() {
        crate::web::tls::ensure_certificate(&tls, &settings.sip.advertised_host)?;
        let app =
            crate::web::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let handle = tls_handle.clone();
        tracing::info!(https = %tls.listen, "serving HTTPS/WSS");
        tokio::spawn(async move {
            if let Err(e) = crate::web::tls::serve(&tls, app, handle).await {
                tracing::error!(error = %e, "HTTPS stopped");
            }
        });
    }
    let http = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let app = crate::web::router(state).into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        })
    };

    shutdown_signal().await;
    tracing::info!(
        calls = manager.active(),
        "shutting down: refusing new calls, draining"
    );
    ep.start_draining();
    manager
        .drain(Duration::from_secs(settings.sip.drain_timeout_secs))
        .await;
    // The one shutdown signal: HTTP and every background task stop on it.
    stop.cancel();
    tls_handle.graceful_shutdown(Some(Duration::from_secs(5)));
    let _ = http.await;
    background.join(Duration::from_secs(10)).await;
    // No page can send a wrap-up any more: store the ones never sent, then flush the events.
    let (stored, failed) = desk.store_pending_wrapups().await;
    if stored + failed > 0 {
        tracing::info!(
            stored,
            failed,
            "pending wrap-ups stored without a disposition"
        );
    }
    if let Err(e) = writer.shutdown(Duration::from_secs(10)).await {
        tracing::warn!(error = %e, "event store not fully flushed; the rest stays in the spill file");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

struct DirectoryCredentials(Arc<Directory>);

impl CredentialLookup for DirectoryCredentials {
    fn ha1(&self, username: &str, algorithm: &str) -> Option<String> {
        self.0.ha1(username, algorithm)
    }
}

/// An agent's phone is registered: log them in ready if they were not in routing, and mark
/// them connected (an agent restored as not ready stays not ready).
fn phone_seen(router: &crate::acd::service::RouterHandle, aor: &str) {
    use crate::acd::router::Input;
    let agent = crate::acd::service::agent_id(aor);
    router.send(Input::AgentLogin {
        agent: agent.clone(),
        ready: true,
    });
    router.send(Input::AgentConnected { agent });
}

fn from_stored(b: &store::Binding) -> Option<Binding> {
    let addr: SocketAddr = b.source_addr.parse().ok()?;
    let transport = Transport::from_via_token(&b.transport)?;
    Some(Binding {
        aor: b.aor.clone(),
        contact: b.contact.clone(),
        // Connections do not survive a restart; the phone's next REGISTER re-binds one.
        source: Peer {
            transport,
            addr,
            conn: None,
        },
        expires_at: (b.expires_at_ms / 1000) as u64,
        call_id: b.call_id.clone(),
        cseq: u32::try_from(b.cseq).unwrap_or(0),
    })
}

//! `helpline serve`: wire the parts together, run until SIGTERM, then shut down gracefully:
//! new INVITEs get 503 + Retry-After, calls in progress may finish up to the drain timeout,
//! and the event store is flushed.

use crate::call::CallManager;
use crate::config::Settings;
use crate::diag::Diagnostic;
use crate::events::now_ms;
use crate::metrics::Metrics;
use crate::sip::auth_server::Authenticator;
use crate::sip::endpoint::{self, RegistrationSink};
use crate::sip::registrar::{Binding, BindingChange, CredentialLookup, Registrar, RegistrarConfig};
use crate::sip::transaction::{Peer, Transport};
use crate::store::{self, EventWriter, Store, WriterConfig};
use crate::users::{self, Directory};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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
fn spawn_reload_on_sighup(
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    live: Arc<crate::ivr::set::LiveDialplans>,
) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            let candidate = crate::acd::config::load_files(
                &settings.paths.queues,
                settings.paths.agents.as_deref(),
            )
            .and_then(|acd| load_dialplans(&settings, &acd.config, live.next_version()));
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
    });
}

/// The RTP engine, the prompts in memory, the dialplans and the CRM lookup for the IVR path.
fn ivr_parts(settings: &Settings) -> anyhow::Result<crate::call::IvrParts> {
    let acd =
        crate::acd::config::load_files(&settings.paths.queues, settings.paths.agents.as_deref())
            .map_err(|d| anyhow::anyhow!(crate::diag::render(&d)))?;
    let plans = load_dialplans(settings, &acd.config, 1)
        .map_err(|d| anyhow::anyhow!(crate::diag::render(&d)))?;
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
        ..Default::default()
    })
    .context("starting the media engine")?;
    Ok(crate::call::IvrParts {
        media,
        prompts: Arc::new(prompts),
        dialplans: Arc::new(crate::ivr::set::LiveDialplans::new(plans)),
        crm: None,
        router: None,
        desk: None,
        webrtc: webrtc_gateway(settings, advertised),
        recording: crate::call::CallRecording {
            dir: settings.media.recordings_dir.clone(),
            queues: acd
                .config
                .queues
                .iter()
                .filter(|q| q.record)
                .map(|q| q.name.clone())
                .collect(),
        },
    })
}

/// Wrap-ups never sent (page closed for good) are stored without a disposition after an hour.
fn spawn_draft_flush(desk: Arc<crate::desk::Desk>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            desk.flush_stale_drafts(Duration::from_secs(3600)).await;
        }
    });
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

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let metrics = Metrics::new();
    let store = connect(&settings.database.url).await?;
    let directory = Arc::new(Directory::default());
    if let Some(path) = &settings.paths.users {
        let entries = users::load(path, &settings.sip.realm)
            .map_err(|d| anyhow::anyhow!(crate::diag::render(&d)))?;
        for u in entries {
            store
                .upsert_user_hashed(&u.to_stored(&settings.sip.realm), now_ms())
                .await
                .with_context(|| format!("storing user {}", u.username))?;
            directory.insert(u);
        }
    }
    let writer = EventWriter::start(
        &store,
        WriterConfig {
            queue_bound: settings.database.queue_bound,
            spill_dir: settings.database.spill_dir.clone(),
            ..WriterConfig::default()
        },
    )
    .context("starting the event writer")?;
    let events = writer.handle();

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
    let now = now_ms();
    let restored = store.all_live_bindings(now).await.unwrap_or_default();
    registrar.restore(restored.iter().filter_map(from_stored), (now / 1000) as u64);
    metrics
        .sip_registrations_active
        .set(registrar.binding_count() as i64);

    let mut ivr = ivr_parts(&settings)?;
    let acd =
        crate::acd::config::load_files(&settings.paths.queues, settings.paths.agents.as_deref())
            .map_err(|d| anyhow::anyhow!(crate::diag::render(&d)))?;
    let stored_states = store.agent_states().await.unwrap_or_default();
    let router = crate::acd::service::spawn(
        acd.config.clone(),
        events.clone(),
        crate::acd::service::records(&stored_states),
    );
    let supervisor = crate::supervisor::Supervisor::start(
        &settings,
        &acd.config,
        store.clone(),
        events.clone(),
        router.clone(),
        metrics.clone(),
    );
    ivr.router = Some(router.clone());
    let crm = crate::crm::Crm::new(
        store.clone(),
        settings.crm.clone(),
        &settings.sip.default_region,
    );
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
        acd.config
            .queues
            .iter()
            .filter(|q| q.disposition_required)
            .map(|q| q.name.clone())
            .collect(),
    );
    router.attach_desk(desk.clone());
    supervisor.attach_desk(desk.clone());
    desk.spawn_queue_counts(Duration::from_secs(2));
    spawn_draft_flush(desk.clone());
    let (stop_outbox, outbox_stopped) = tokio::sync::oneshot::channel::<()>();
    let outbox = crate::crm::outbox::spawn_outbox(crm.clone(), async {
        let _ = outbox_stopped.await;
    });
    ivr.crm = Some(crm);
    ivr.desk = Some(desk.clone());
    spawn_reload_on_sighup(settings.clone(), metrics.clone(), ivr.dialplans.clone());
    let manager = CallManager::new(settings.clone(), metrics.clone(), events.clone(), Some(ivr));
    // Agents whose phones are registered are in routing (logged in, ready).
    tracing::info!(
        bindings = restored.len(),
        agent_states = stored_states.len(),
        "restored from the database"
    );
    for b in &restored {
        phone_seen(&router, &b.aor);
    }
    let sink = Arc::new(StoreRegistrations {
        store: store.clone(),
        router: router.clone(),
    });
    let ep = endpoint::start(
        settings.clone(),
        metrics.clone(),
        registrar,
        Arc::new(DirectoryCredentials(directory.clone())),
        sink,
        manager.clone(),
    )
    .await
    .context("starting SIP")?;
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
        database = %redact(&settings.database.url), "helpline serving"
    );
    let (stop_http, stopped) = tokio::sync::oneshot::channel::<()>();
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
    let http = tokio::spawn(async move {
        let app = crate::web::router(state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    shutdown_signal().await;
    tracing::info!(
        calls = manager.active(),
        "shutting down: refusing new calls, draining"
    );
    ep.start_draining();
    manager
        .drain(Duration::from_secs(settings.sip.drain_timeout_secs))
        .await;
    let _ = stop_http.send(());
    tls_handle.graceful_shutdown(Some(Duration::from_secs(5)));
    let _ = http.await;
    let _ = stop_outbox.send(());
    let _ = outbox.await;
    if let Err(e) = writer.shutdown(Duration::from_secs(10)).await {
        tracing::warn!(error = %e, "event store not fully flushed; the rest stays in the spill file");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Connect and migrate, retrying for a while so a database still starting is waited for.
async fn connect(url: &str) -> anyhow::Result<Store> {
    let mut last = None;
    for _ in 0..30 {
        match store::migrate(url).await {
            Ok(s) => return Ok(s),
            Err(e) => {
                tracing::warn!(error = %e, database = %redact(url), "database not ready; retrying");
                last = Some(e);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    Err(anyhow::anyhow!(
        "database {}: {}",
        redact(url),
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
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

/// Keeps registrar bindings in the database so they survive a restart.
struct StoreRegistrations {
    store: Store,
    router: crate::acd::service::RouterHandle,
}

impl RegistrationSink for StoreRegistrations {
    fn changed(&self, changes: Vec<BindingChange>) {
        use crate::acd::router::Input;
        for c in &changes {
            match c {
                BindingChange::Upsert(b) => phone_seen(&self.router, &b.aor),
                BindingChange::Remove { aor, .. } => self.router.send(Input::AgentDisconnected {
                    agent: crate::acd::service::agent_id(aor),
                }),
            }
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            for c in changes {
                let r = match &c {
                    BindingChange::Upsert(b) => store.upsert_binding(&to_stored(b)).await,
                    BindingChange::Remove { aor, contact } => {
                        store.remove_binding(aor, contact).await.map(|_| ())
                    }
                };
                if let Err(e) = r {
                    tracing::warn!(error = %e, "registration not persisted");
                }
            }
        });
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

fn to_stored(b: &Binding) -> store::Binding {
    store::Binding {
        aor: b.aor.clone(),
        contact: b.contact.clone(),
        instance: None,
        transport: b.source.transport.via_token().to_ascii_lowercase(),
        source_addr: b.source.addr.to_string(),
        connection: b.source.conn.map(|c| c.to_string()),
        expires_at_ms: (b.expires_at * 1000) as i64,
        call_id: b.call_id.clone(),
        cseq: i64::from(b.cseq),
        updated_ms: now_ms(),
    }
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

//! Real-time scheduling for the calling thread (the media pacing workers), so 20 ms pacing
//! survives a busy host. Linux only; elsewhere it reports "unsupported".

/// Puts the calling thread under SCHED_FIFO at `priority` (clamped to 1–99).
#[cfg(target_os = "linux")]
pub fn set_fifo(priority: i32) -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority.clamp(1, 99),
    };
    // SAFETY: pid 0 means the calling thread; `param` is a valid, initialised sched_param that
    // outlives the call.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Unsupported outside Linux.
#[cfg(not(target_os = "linux"))]
pub fn set_fifo(_priority: i32) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "SCHED_FIFO needs Linux",
    ))
}

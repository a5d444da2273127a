//! Rust futures as asyncio awaitables, on pyo3-async-runtimes' tokio runtime, with a drain
//! at exit.
//!
//! `pyo3_async_runtimes::tokio::future_into_py` touches Python from a tokio thread after the
//! awaiting coroutine has its result; when the interpreter is finalizing by then, the process
//! crashes (PyO3/pyo3-async-runtimes#40, seen here as a SIGSEGV of about one module process in
//! twenty). Here every task counts itself in flight until it has let go of Python entirely,
//! and [`drain`] (registered with `atexit` by `hush._core`) waits for the count to reach zero
//! before finalization starts.

use std::future::Future;
use std::sync::{Condvar, Mutex};

use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

static IN_FLIGHT: Mutex<usize> = Mutex::new(0);
static SETTLED: Condvar = Condvar::new();

/// One task in flight; dropped once the task no longer touches Python.
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        *IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut count = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        *count -= 1;
        if *count == 0 {
            SETTLED.notify_all();
        }
    }
}

/// Runs `fut` on the tokio runtime; returns an asyncio future of the running loop that gets
/// its outcome through `hush._core._settle`.
pub fn spawn<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let settle = py.import("hush._core")?.getattr("_settle")?.unbind();
    let (event_loop, target) = (event_loop.unbind(), future.clone().unbind());
    let guard = InFlight::enter();
    pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
        let outcome = fut.await;
        Python::attach(|py| {
            let (ok, value) = match outcome.and_then(|v| v.into_py_any(py)) {
                Ok(value) => (true, value),
                Err(err) => (false, err.into_value(py).into_any()),
            };
            // A closed loop means nobody awaits the result any more.
            let _ =
                event_loop.call_method1(py, "call_soon_threadsafe", (settle, target, ok, value));
            drop(event_loop);
        });
        drop(guard);
    });
    Ok(future)
}

/// Waits, without the GIL, until no task touches Python any more.
#[pyfunction]
pub fn drain(py: Python<'_>) {
    py.detach(|| {
        let mut count = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        while *count > 0 {
            count = SETTLED.wait(count).unwrap_or_else(|e| e.into_inner());
        }
    });
}

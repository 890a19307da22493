//! Where log lines go: a bounded buffer in memory, written to stderr by one thread of its own.
//!
//! Why not a queue with one message per line (tracing-appender's non-blocking writer, which this
//! replaced): its thread woke for nearly every line, and at tens of thousands of tokens a second
//! those wake-ups, on both sides, cost more than writing the lines (perf, under
//! bench/compare.sh). Here a request appends its line to the buffer under a lock and wakes the
//! thread only when the buffer was empty; the thread then waits a few milliseconds for more and
//! writes them all at once. So under load the thread wakes a few hundred times a second, and
//! when it is quiet a line is out within [`GATHER`].
//!
//! The thread swaps the buffer for one it has written out, so in a steady state appending a line
//! allocates nothing: growing a fresh buffer for every batch, and freeing it on another thread,
//! showed in perf as `realloc` and `malloc_consolidate` on the request path.
//!
//! No line is dropped: when the buffer holds [`LIMIT`] bytes (stderr slower than the traffic for a
//! while), a thread that logs waits for room, so audit events are slowed, never lost
//! (docs/security.md). Dropping the [`Flusher`] writes what is buffered and stops the thread.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the thread waits, after a line arrives, for others to write with it.
pub const GATHER: Duration = Duration::from_millis(5);

/// The most bytes buffered before a thread that logs waits for the writer.
pub const LIMIT: usize = 8 * 1024 * 1024;

/// The most capacity the writer keeps in its spare buffer after a burst, so a burst does not
/// hold megabytes of memory for the rest of the process's life.
const KEEP: usize = 256 * 1024;

#[derive(Default)]
struct Buffer {
    lines: Vec<u8>,
    closed: bool,
}

#[derive(Default)]
pub struct Shared {
    buffer: Mutex<Buffer>,
    /// Signalled when the buffer stops being empty, and on close.
    arrived: Condvar,
    /// Signalled when the writer has taken the buffer.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // A thread that panicked while appending left at worst a partial line: keep logging.
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The handle a logging thread writes through (`tracing_subscriber`'s `MakeWriter`).
#[derive(Clone)]
pub struct LineWriter {
    shared: Arc<Shared>,
}

/// Owns the writer thread: dropping it writes every buffered line, then stops the thread.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread over `out`.
pub fn start(out: impl Write + Send + 'static) -> std::io::Result<(LineWriter, Flusher)> {
    let shared = Arc::new(Shared::default());
    let for_thread = shared.clone();
    let thread = std::thread::Builder::new()
        .name("portcullis-log".into())
        .spawn(move || write_out(&for_thread, out))?;
    Ok((
        LineWriter {
            shared: shared.clone(),
        },
        Flusher {
            shared,
            thread: Some(thread),
        },
    ))
}

fn write_out(shared: &Shared, mut out: impl Write) {
    let mut lines = Vec::new();
    loop {
        let mut buffer = shared.lock();
        while buffer.lines.is_empty() && !buffer.closed {
            buffer = shared
                .arrived
                .wait(buffer)
                .unwrap_or_else(|e| e.into_inner());
        }
        if !buffer.closed {
            drop(buffer);
            std::thread::sleep(GATHER);
            buffer = shared.lock();
        }
        std::mem::swap(&mut buffer.lines, &mut lines);
        let closed = buffer.closed;
        shared.room.notify_all();
        drop(buffer);
        // Nowhere to report a failure to write the log itself; the lines are gone either way.
        let _ = out.write_all(&lines).and_then(|()| out.flush());
        lines.clear();
        lines.shrink_to(KEEP);
        if closed && shared.lock().lines.is_empty() {
            return;
        }
    }
}

impl Write for LineWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.shared.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn append(&self, line: &[u8]) {
        let mut buffer = self.lock();
        while !buffer.lines.is_empty() && buffer.lines.len() + line.len() > LIMIT {
            buffer = self.room.wait(buffer).unwrap_or_else(|e| e.into_inner());
        }
        if buffer.lines.is_empty() {
            self.arrived.notify_one();
        }
        buffer.lines.extend_from_slice(line);
    }
}

/// Where `tracing_subscriber` writes each formatted line: the buffer, or stderr directly when no
/// thread could be started for the writer.
pub enum LogTarget {
    Buffered(LineWriter),
    Stderr,
}

/// One line's writer, borrowed from the [`LogTarget`]: making one per line costs no allocation
/// and no reference count (a boxed or cloned writer per line showed in perf).
pub enum LineRef<'a> {
    Buffered(&'a Shared),
    Stderr(std::io::Stderr),
}

impl Write for LineRef<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        match self {
            LineRef::Buffered(shared) => {
                shared.append(line);
                Ok(line.len())
            }
            LineRef::Stderr(stderr) => stderr.write(line),
        }
    }

    fn write_all(&mut self, line: &[u8]) -> std::io::Result<()> {
        match self {
            LineRef::Buffered(shared) => {
                shared.append(line);
                Ok(())
            }
            LineRef::Stderr(stderr) => stderr.write_all(line),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            LineRef::Buffered(_) => Ok(()),
            LineRef::Stderr(stderr) => stderr.flush(),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogTarget {
    type Writer = LineRef<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        match self {
            LogTarget::Buffered(writer) => LineRef::Buffered(&writer.shared),
            LogTarget::Stderr => LineRef::Stderr(std::io::stderr()),
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.arrived.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Bytes written, kept in memory (also used by `json_lines`' tests).
    #[derive(Clone, Default)]
    pub(crate) struct Sink(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_from_every_thread_is_written_by_the_time_the_flusher_drops() {
        let sink = Sink::default();
        let (writer, flusher) = start(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        writer.write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(flusher);
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(written.lines().count(), 40_000);
        for t in 0..4 {
            let mine: Vec<_> = written
                .lines()
                .filter(|l| l.starts_with(&format!("{t} ")))
                .collect();
            assert_eq!(mine.len(), 10_000);
            assert!(mine.windows(2).all(|w| {
                let n = |l: &str| l.split(' ').nth(1).unwrap().parse::<u32>().unwrap();
                n(w[0]) + 1 == n(w[1])
            }));
        }
    }

    #[test]
    fn a_full_buffer_makes_the_logger_wait_rather_than_drop() {
        // A sink that takes its time: the writers fill the buffer and must wait for room.
        #[derive(Clone, Default)]
        struct Slow(Sink);
        impl Write for Slow {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                std::thread::sleep(Duration::from_millis(20));
                self.0.write(bytes)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let slow = Slow::default();
        let (mut writer, flusher) = start(slow.clone()).unwrap();
        let line = vec![b'x'; LIMIT / 4 - 1];
        for _ in 0..12 {
            writer.write_all(&line).unwrap();
            writer.write_all(b"\n").unwrap();
        }
        drop(flusher);
        assert_eq!(slow.0.0.lock().unwrap().len(), 12 * LIMIT / 4);
    }
}

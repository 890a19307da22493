//! Empty: the proof is in tests/.

raise RuntimeError("a disabled function is never imported")

"""Registries of the pluggable choices: each entry declares its properties in one module, and every
other module asks the registry instead of comparing names (adding an entry touches that module and
its tests). Light: no heavy imports, so the settings (config, presets) can use them.

- selection: checkpoint selection rules (`--selection`);
- detectors: offline face detectors (`--detector`, PreprocessConfig.detector).
"""

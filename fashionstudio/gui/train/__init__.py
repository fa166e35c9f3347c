"""The Train tab's pieces: new-run dialog, run list, trainer process, live plots and the sample-grid viewer."""

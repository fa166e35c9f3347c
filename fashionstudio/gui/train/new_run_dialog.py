"""The "New run" dialog: what to train, on which data, for how long; it checks the answers before closing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from fashionstudio.core.runs import (
    DATA_KIND_LABELS, PRESETS, RunSetupError, RunSpec, form_values, trainable_families, validate_run_spec,
)

PRESET_TEXT = {
    "demo": "Demo: small, trains on a laptop CPU",
    "studio": "Studio: desktop sizes, wants a GPU",
    "thesis": "Thesis: the thesis's full sizes (GPU, days)",
}
RESOLUTIONS = (None, 32, 64, 128, 256)
DEVICE_TEXT = (("auto", "Automatic (GPU if there is one)"), ("cpu", "CPU"), ("cuda", "CUDA GPU"),
               ("mps", "Apple GPU (MPS)"))


class NewRunDialog(QDialog):
    """Fill in, then ``spec()`` gives the :class:`RunSpec`; ``start_now`` says whether to start at once."""

    def __init__(self, runs_dir: Path, parent: QWidget | None = None, family: str | None = None) -> None:
        super().__init__(parent)
        self.runs_dir = Path(runs_dir)
        self.setWindowTitle("New training run")
        self.setMinimumWidth(520)

        self.name_edit = QLineEdit()
        self.family_combo = QComboBox()
        families = trainable_families()
        for key, spec in families.items():
            self.family_combo.addItem(spec.display_label, key)
        if family in families:
            self.family_combo.setCurrentIndex(list(families).index(family))
        self.preset_combo = QComboBox()
        for preset in PRESETS:
            self.preset_combo.addItem(PRESET_TEXT[preset], preset)
        self.data_combo = QComboBox()
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("The dataset folder (or file) on this computer")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        self.folder_widget = QWidget()
        self.folder_widget.setLayout(folder_row)
        folder_row.setContentsMargins(0, 0, 0, 0)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(8, 1_000_000)
        self.size_spin.setSingleStep(100)
        self.size_spin.setSuffix(" images")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100_000_000)
        self.steps_spin.setSingleStep(500)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 4096)
        # How often the run shows progress and can be resumed from; 0 = never (the trainer's own convention).
        self.sample_spin = self._interval_spin("Steps between sample grids in the Samples view (Never: none).")
        self.checkpoint_spin = self._interval_spin(
            "Steps between checkpoints to resume from; one is also written when the run stops or ends.")
        self._preset_log: dict[str, Any] = {}
        self.resolution_combo = QComboBox()
        for res in RESOLUTIONS:
            self.resolution_combo.addItem("As the preset says" if res is None else f"{res} × {res} px", res)
        self.device_combo = QComboBox()
        for value, text in DEVICE_TEXT:
            self.device_combo.addItem(text, value)
        self.start_check = QCheckBox("Start training now")
        self.start_check.setChecked(True)
        self.error_label = QLabel("")
        self.error_label.setObjectName("dialogError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b3261e;")
        self.error_label.hide()

        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Model", self.family_combo)
        form.addRow("Preset", self.preset_combo)
        form.addRow("Data", self.data_combo)
        self.folder_label = QLabel("Folder")
        form.addRow(self.folder_label, self.folder_widget)
        self.size_label = QLabel("Generate")
        form.addRow(self.size_label, self.size_spin)
        form.addRow("Training steps", self.steps_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Sample grid every", self.sample_spin)
        form.addRow("Checkpoint every", self.checkpoint_spin)
        form.addRow("Resolution", self.resolution_combo)
        form.addRow("Device", self.device_combo)
        note = QLabel(f"The run folder is created in {self.runs_dir}.")
        note.setObjectName("dialogNote")
        note.setWordWrap(True)
        note.setStyleSheet("color: #6b717b;")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(self.start_check)
        lay.addWidget(self.error_label)
        lay.addWidget(buttons)

        self.family_combo.currentIndexChanged.connect(self._on_family)
        self.preset_combo.currentIndexChanged.connect(self._fill_defaults)
        self.data_combo.currentIndexChanged.connect(self._on_data_kind)
        for signal in (self.name_edit.textChanged, self.folder_edit.textChanged):
            signal.connect(lambda *_: self.error_label.hide())
        self._on_family()

    # -- form logic -----------------------------------------------------------------------------------------------
    @property
    def family(self) -> str:
        return str(self.family_combo.currentData())

    def _on_family(self, *_: Any) -> None:
        current = self.data_combo.currentData()
        self.data_combo.blockSignals(True)
        self.data_combo.clear()
        for kind in ("atelier", *trainable_families()[self.family].data_kinds):
            self.data_combo.addItem(DATA_KIND_LABELS[kind], kind)
        index = self.data_combo.findData(current)
        self.data_combo.setCurrentIndex(max(0, index))
        self.data_combo.blockSignals(False)
        self._on_data_kind()
        self._fill_defaults()
        if not self.name_edit.isModified():
            self.name_edit.setText(f"{trainable_families()[self.family].tool}-{time.strftime('%Y%m%d-%H%M')}")

    @staticmethod
    def _interval_spin(tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(0, 100_000_000)
        spin.setSingleStep(50)
        spin.setSuffix(" steps")
        spin.setSpecialValueText("Never")
        spin.setToolTip(tip)
        return spin

    def _fill_defaults(self, *_: Any) -> None:
        v = form_values(str(self.preset_combo.currentData()), self.family)
        self.steps_spin.setValue(v["steps"])
        self.batch_spin.setValue(v["batch_size"])
        self.size_spin.setValue(v["atelier_size"])
        self.sample_spin.setValue(v["sample_every"])
        self.checkpoint_spin.setValue(v["checkpoint_every"])
        # What the form shows unchanged is the preset's value, stated in its file or not (then a default).
        self._preset_log = {"sample_every": v["sample_every"], "checkpoint_every": v["checkpoint_every"]}

    def _override(self, key: str, spin: QSpinBox) -> int | None:
        """The interval when it differs from the preset's (otherwise None, so the preset stays in charge)."""
        return None if self._preset_log.get(key) == spin.value() else spin.value()

    def _on_data_kind(self, *_: Any) -> None:
        atelier = self.data_combo.currentData() == "atelier"
        for w in (self.folder_label, self.folder_widget):
            w.setVisible(not atelier)
        for w in (self.size_label, self.size_spin):
            w.setVisible(atelier)

    def _browse(self) -> None:
        kind = self.data_combo.currentData()
        start = self.folder_edit.text() or str(Path.home())
        if kind == "fisb":
            path, _ = QFileDialog.getOpenFileName(self, "Fashion Synthesis G2.h5", start, "HDF5 (*.h5);;All files (*)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Dataset folder", start)
        if path:
            self.folder_edit.setText(path)

    # -- result ---------------------------------------------------------------------------------------------------
    def spec(self) -> RunSpec:
        return RunSpec(
            name=self.name_edit.text().strip(), family=self.family, preset=str(self.preset_combo.currentData()),
            data_kind=str(self.data_combo.currentData()), data_path=self.folder_edit.text().strip(),
            atelier_size=self.size_spin.value(), steps=self.steps_spin.value(), batch_size=self.batch_spin.value(),
            resolution=self.resolution_combo.currentData(), device=str(self.device_combo.currentData()),
            sample_every=self._override("sample_every", self.sample_spin),
            checkpoint_every=self._override("checkpoint_every", self.checkpoint_spin),
        )

    @property
    def start_now(self) -> bool:
        return self.start_check.isChecked()

    def accept(self) -> None:
        """Close only when the settings are usable; otherwise say what to fix."""
        try:
            validate_run_spec(self.spec(), self.runs_dir)
        except RunSetupError as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            return
        self.error_label.setText("")
        super().accept()

"""StyleGAN2 trainer (Karras et al. 2020; it replaces the thesis's StyleGAN v1, which never trained well).

- Non-saturating logistic loss for G and D.
- Lazy R1 on real images every ``r1_interval`` steps, scaled by the interval (γ/2·‖∇D(x)‖²).
- Optional path-length regularisation (``pl_weight`` > 0) every ``pl_interval`` steps on a smaller batch.
- Style-mixing regularisation: with probability ``style_mixing`` a sample's ws switch to a second z's from a random
  layer on.
- EMA generator (``[optim] ema_half_life`` in images), used for samples and export; ``w_avg`` tracked in G.
- DiffAugment (``augment``) on every image D sees, real or fake: see :mod:`training.trainers.augment` for why it
  rather than ADA.
- Adam's lr and betas are corrected for lazy regularisation (c = interval / (interval + 1)), as in the paper.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from training import distributed as dist_util
from training.trainers.augment import diff_augment, parse_policy
from training.trainers.batches import collate
from training.trainers.trainer import Trainer


class StyleGAN2Trainer(Trainer):
    DEFAULT_LR = {"G": 2e-3, "D": 2e-3}
    DEFAULT_LOSS = {"adversarial": "nonsaturating", "r1_gamma": 1.0, "r1_interval": 16, "pl_weight": 0.0,
                    "pl_interval": 4, "pl_decay": 0.01, "pl_batch_shrink": 2, "style_mixing": 0.9,
                    "augment": "color,translation,cutout"}
    EMA_NETWORKS = ("G",)
    PLATEAU_LOSS = {"G": "G", "D": "D"}
    N_FIXED = 8

    def make_optimizers(self):
        loss = self.cfg.loss
        if loss["adversarial"] != "nonsaturating":
            raise ValueError("StyleGAN2 trains with the non-saturating loss: [loss] adversarial = \"nonsaturating\".")
        self.policy = parse_policy(loss["augment"])
        self.pl_mean = torch.zeros((), device=self.device)
        opts = {}
        for name, interval, on in (("G", loss["pl_interval"], loss["pl_weight"] > 0),
                                   ("D", loss["r1_interval"], loss["r1_gamma"] > 0)):
            c = interval / (interval + 1) if on and interval > 0 else 1.0
            b1, b2 = self.cfg.optim.betas
            opts[name] = torch.optim.Adam(self.nets[name].parameters(), lr=self.cfg.optim.lr[name] * c,
                                          betas=(b1 ** c, b2 ** c))
        return opts

    def _z(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.nets["G"].z_dim, device=self.device)

    def _generate(self, n: int) -> torch.Tensor:
        """Images from fresh z, with style mixing for a ``style_mixing`` fraction of the samples."""
        G = self.nets["G"]
        z, z_mix = self._z(n), self._z(n)
        cutoff = torch.randint(1, G.num_ws, (n,), device=self.device)
        mixing = torch.rand(n, device=self.device) < self.cfg.loss["style_mixing"]
        cutoff = torch.where(mixing, cutoff, torch.full_like(cutoff, G.num_ws))
        return G(z, z_mix=z_mix, mix_cutoff=cutoff, noise_mode="random", update_w_avg=True)

    def _D(self, img: torch.Tensor) -> torch.Tensor:
        return self.nets["D"](diff_augment(img, self.policy) if self.policy else img)

    def train_step(self, batch):
        loss = self.cfg.loss
        real = batch["image"]
        n = real.shape[0]
        values = {}

        # D: real -> real, G(z) -> fake.
        with torch.no_grad(), self.autocast():
            fake = self._generate(n)
        with self.autocast():
            l_d = F.softplus(self._D(fake).float()).mean() + F.softplus(-self._D(real).float()).mean()
        values.update(self.check_finite({"D": l_d}))
        self.update("D", l_d)

        # Lazy R1 on (augmented) reals, differentiated w.r.t. the un-augmented image.
        if loss["r1_gamma"] > 0 and loss["r1_interval"] > 0 and self.step % loss["r1_interval"] == 0:
            x = real.detach().requires_grad_(True)
            score = self._D(x).float()  # fp32: the penalty's double backward is where fp16 overflows
            (grad,) = torch.autograd.grad(score.sum(), x, create_graph=True)
            r1 = grad.square().sum(dim=[1, 2, 3]).mean()
            values.update(self.check_finite({"r1": r1}))
            self.update("D", (loss["r1_gamma"] / 2) * r1 * loss["r1_interval"] + 0 * score.mean())

        # G: make D call G(z) real.
        self.set_requires_grad(["D"], False)
        with self.autocast():
            l_g = F.softplus(-self._D(self._generate(n)).float()).mean()
        values.update(self.check_finite({"G": l_g}))
        self.update("G", l_g)

        # Optional path-length regularisation: |J_w^T y| close to its running mean.
        if loss["pl_weight"] > 0 and loss["pl_interval"] > 0 and self.step % loss["pl_interval"] == 0:
            values.update(self._path_length(max(1, n // loss["pl_batch_shrink"])))
        self.set_requires_grad(["D"], True)
        return values

    def _path_length(self, n: int) -> dict[str, float]:
        loss, G = self.cfg.loss, self.nets["G"]
        ws = G.broadcast(G.mapping(self._z(n)))
        img = G.synthesis(ws, noise_mode="random")
        y = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
        (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
        lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
        mean_now = dist_util.mean_scalar(float(lengths.mean().detach()), self.dist, self.device)
        self.pl_mean = self.pl_mean + loss["pl_decay"] * (mean_now - self.pl_mean)
        penalty = (lengths - self.pl_mean).square().mean()
        values = self.check_finite({"path_length": penalty})
        self.update("G", penalty * loss["pl_weight"] * loss["pl_interval"] + 0 * img[0, 0, 0, 0])
        return values

    def extra_state(self):
        return {"pl_mean": self.pl_mean.detach().cpu()}

    def load_extra_state(self, state):
        if "pl_mean" in state:
            self.pl_mean = state["pl_mean"].to(self.device)

    def fixed_inputs(self, dataset, n):
        g = torch.Generator().manual_seed(self.cfg.seed + 1)
        idx = torch.randperm(len(dataset), generator=g)[: min(n, len(dataset))].tolist()
        real = collate([dataset[i] for i in idx])["image"]
        return {"z": torch.randn(2 * n, self.nets["G"].z_dim, generator=g), "image": real}

    @torch.no_grad()
    def sample_rows(self, fixed):
        G = self.inference_net("G")
        z = fixed["z"]
        half = z.shape[0] // 2
        return [("real", fixed["image"]), ("generated", G(z[:half], noise_mode="const")),
                ("generated", G(z[half:], noise_mode="const")),
                ("truncation ψ=0.7", G(z[:half], truncation_psi=0.7, noise_mode="const"))]

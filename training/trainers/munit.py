"""Content/style trainer for shoes (A) <-> handbags (B) (MUNIT's losses, DRIT++'s content prior).

One step, with ``c_X, s_X`` the content (sampled from the encoder's Gaussian) and style codes of a real ``x``:

- image reconstruction: ``recon·(‖G_A.decode(c_a, s_a) − a‖₁ + ‖G_B.decode(c_b, s_b) − b‖₁)``;
- content prior: ``kl·KL(q(c|x) ‖ N(0, I))`` per domain, so a content code drawn from N(0, I) decodes to a
  plausible item (the candidates are such draws);
- cross-domain translation with random content: ``fake_b = G_B.decode(z_b, s_a)``, ``fake_a = G_A.decode(z_a,
  s_b)``, ``z ~ N(0, I)``: ``adv·L_adv(D_B(fake_b)) + adv·L_adv(D_A(fake_a))`` (LSGAN);
- latent reconstruction: ``latent·(‖G_B.style(fake_b) − s_a‖₁ + ‖μ_B(fake_b) − z_b‖₁ + the same for fake_a)``:
  the style survives into the other domain (the shared style space) and every content code gives a different
  item (no mode collapse onto one bag);
- optional colour and texture consistency (``[loss] colour``, ``texture``; see ``losses.colour_consistency`` and
  ``losses.texture_consistency``): the translation's fabric colour / fine-detail statistics against the input's,
  label-free, as the CycleGAN demo uses them;
- D: ``D_A`` on real shoes vs ``fake_a``, ``D_B`` on real bags vs ``fake_b`` (detached), optional DiffAugment.
"""

from __future__ import annotations

import torch

from training.trainers import losses
from training.trainers.augment import diff_augment, parse_policy
from training.trainers.trainer import Trainer


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of KL(N(mu, exp(logvar)) ‖ N(0, I)), summed over the code's dimensions."""
    return 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(dim=1).mean()


class MunitTrainer(Trainer):
    DEFAULT_LR = {"G": 2e-4, "D": 2e-4}
    DEFAULT_LOSS = {"adversarial": "lsgan", "adv": 1.0, "recon": 10.0, "kl": 0.01, "latent": 1.0,
                    "colour": 0.0, "colour_region": "fabric", "texture": 0.0, "augment": ""}
    EMA_NETWORKS = ("G_A", "G_B")
    MONITOR = "recon"
    BEST_METRIC = "recon"
    PLATEAU_LOSS = {"G": "G", "D": "D"}

    def make_optimizers(self):
        self.adv_kind = losses.check_kind(self.cfg.loss["adversarial"])
        self.policy = parse_policy(self.cfg.loss["augment"])
        losses.check_colour_region(self.cfg.loss["colour_region"])
        g = list(self.nets["G_A"].parameters()) + list(self.nets["G_B"].parameters())
        d = list(self.nets["D_A"].parameters()) + list(self.nets["D_B"].parameters())
        return {"G": self.adam("G", g), "D": self.adam("D", d)}

    def _judge(self, name: str, img: torch.Tensor) -> torch.Tensor:
        return self.nets[name](diff_augment(img, self.policy) if self.policy else img)

    def train_step(self, batch):
        G_A, G_B = self.nets["G_A"], self.nets["G_B"]
        a, b = batch["A"], batch["B"]
        kind = self.adv_kind
        zero = torch.zeros((), device=a.device)
        with self.autocast():
            mu_a, lv_a, s_a = G_A.encode(a)
            mu_b, lv_b, s_b = G_B.encode(b)
            c_a = mu_a + torch.randn_like(mu_a) * (0.5 * lv_a).exp()
            c_b = mu_b + torch.randn_like(mu_b) * (0.5 * lv_b).exp()
            l_recon = (G_A.decode(c_a, s_a).float() - a).abs().mean() + (G_B.decode(c_b, s_b).float() - b).abs().mean()
            l_kl = kl_normal(mu_a.float(), lv_a.float()) + kl_normal(mu_b.float(), lv_b.float())
            z_a, z_b = torch.randn_like(mu_a), torch.randn_like(mu_b)
            fake_b, fake_a = G_B.decode(z_b, s_a), G_A.decode(z_a, s_b)
            mu_fb, _, s_fb = G_B.encode(fake_b)
            mu_fa, _, s_fa = G_A.encode(fake_a)
            l_latent = (s_fb - s_a).abs().mean() + (s_fa - s_b).abs().mean() \
                + (mu_fb - z_b).abs().mean() + (mu_fa - z_a).abs().mean()
            l_d = sum(losses.d_real(self._judge(d, real), kind) + losses.d_fake(self._judge(d, fake.detach()), kind)
                      for d, real, fake in (("D_A", a, fake_a), ("D_B", b, fake_b)))
        region = self.cfg.loss["colour_region"]
        w_col, w_tex = self.weight("colour"), self.weight("texture")
        l_col = (losses.colour_consistency(fake_b, a, region) + losses.colour_consistency(fake_a, b, region)) \
            if w_col else zero
        l_tex = (losses.texture_consistency(fake_b, a) + losses.texture_consistency(fake_a, b)) if w_tex else zero
        values = self.check_finite({"D": l_d, "recon": l_recon, "kl": l_kl, "latent": l_latent, "colour": l_col,
                                    "texture": l_tex})
        self.update("D", l_d)

        self.set_requires_grad(["D_A", "D_B"], False)
        with self.autocast():
            l_adv = losses.g_adv(self._judge("D_B", fake_b), kind) + losses.g_adv(self._judge("D_A", fake_a), kind)
        self.set_requires_grad(["D_A", "D_B"], True)
        l_g = self.weight("adv") * l_adv + self.weight("recon") * l_recon + self.weight("kl") * l_kl \
            + self.weight("latent") * l_latent + w_col * l_col + w_tex * l_tex
        values.update(self.check_finite({"G_adv": l_adv, "G": l_g}))
        self.update("G", l_g)
        return values

    def _fixed_codes(self, n: int, dim: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.cfg.seed + 2)
        return torch.randn(n, dim, generator=g).to(self.device)

    @torch.no_grad()
    def sample_rows(self, fixed):
        G_A, G_B = self.inference_net("G_A"), self.inference_net("G_B")
        a, b = fixed["A"], fixed["B"]
        z = self._fixed_codes(2 * a.shape[0], G_A.content_dim)
        s_a, s_b = G_A.style(a), G_B.style(b)
        return [("shoe", a), ("→ bag", G_B.decode(z[: a.shape[0]], s_a)), ("→ another bag", G_B.decode(z[a.shape[0]:], s_a)),
                ("bag", b), ("→ shoe", G_A.decode(z[: b.shape[0]], s_b)), ("→ another shoe", G_A.decode(z[b.shape[0]:], s_b)),
                ("shoe rebuilt", G_A(a)), ("bag rebuilt", G_B(b))]

    @torch.no_grad()
    def evaluate(self, fixed):
        G_A, G_B = self.inference_net("G_A"), self.inference_net("G_B")
        a, b = fixed["A"], fixed["B"]
        return {"recon": float((G_A(a) - a).abs().mean() + (G_B(b) - b).abs().mean())}

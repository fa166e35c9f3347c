"""DiscoGAN / CycleGAN trainer for shoes (A) ↔ handbags (B) (the thesis's Table 13).

- G_AB: shoes → bags, G_BA: bags → shoes; D_A judges shoes, D_B bags, each on one image (domain discriminators).
- G (joint, one optimiser for both generators):
  L_adv(D_B(G_AB(a))) + L_adv(D_A(G_BA(b))) + λ_cycle·(‖G_BA(G_AB(a)) − a‖₁ + ‖G_AB(G_BA(b)) − b‖₁)
  + λ_identity·(‖G_AB(b) − b‖₁ + ‖G_BA(a) − a‖₁), λ_cycle = 10, λ_identity = 5 (the original code's
  identity weight was silently 0.1).
- Optional colour consistency (``[loss] colour``, 0 in the thesis preset): λ_colour·‖c(G_AB(a)) − c(a)‖₁ + the same
  for G_BA, where c is the item's background-weighted mean colour. A FashionStudio addition: the thesis relied on
  the adversarial and cycle terms alone, and small generators trained briefly hide the cycle information in
  texture instead of keeping the colour. ``[loss] colour_region = "fabric"`` measures the main material only
  (``losses.fabric_colour``), not the sole and laces.
- Optional texture consistency (``[loss] texture``, 0 in the thesis preset): λ_texture·‖t(G_AB(a)) − t(a)‖₁ + the
  same for G_BA, where t are Gram statistics of the fabric's high frequencies (``losses.fabric_texture``): the
  matching bag keeps the shoe's pattern, and a solid shoe gives a solid bag. Label-free, so it works on real data.
- Optional DiffAugment (``[loss] augment``, "" in the thesis preset): every image D_A / D_B sees, real or fake, goes
  through the same random differentiable transforms (see ``augment.py``), against a discriminator that otherwise
  wins the small demo runs early.
- Optional cycle blur and noise (``[loss] cycle_blur`` in pixels, ``cycle_noise`` in image units, both 0 in the
  thesis preset): the cycle terms translate back ``blur(G_AB(a)) + σ·ε`` instead of ``G_AB(a)``, the defence of
  Bashkirova et al. 2019 ("Adversarial self-defense for cycle-consistent GANs") against the steganography Chu et al.
  2017 found in CycleGAN. Demo generators trained without it pass the shoe's shape to the way back as a fine code in
  the bag, which the classifier reads as a printed fabric on a plain item. Through a blur only what is visible
  survives the round trip; the noise keeps G from undoing the blur by sharpening.
- D (joint, one optimiser for both, DiscoGAN's choice): D_A on real shoes vs G_BA(b), D_B on real bags vs G_AB(a),
  on *detached* fakes (the original code let D's loss reach the generators).
"""

from __future__ import annotations

import math

import torch
from torchvision.transforms.v2.functional import gaussian_blur

from training.trainers import losses
from training.trainers.augment import diff_augment, parse_policy
from training.trainers.trainer import Trainer


class CycleGANTrainer(Trainer):
    DEFAULT_LR = {"G": 2e-4, "D": 2e-4}
    DEFAULT_LOSS = {"adversarial": "lsgan", "cycle": 10.0, "identity": 5.0, "adv": 1.0, "colour": 0.0,
                    "colour_region": "item", "texture": 0.0, "augment": "", "cycle_noise": 0.0,
                    "cycle_blur": 0.0}
    # With [optim] ema_half_life > 0 the app gets weight-averaged generators (Yazıcı et al. 2019), which smooth out
    # the step-to-step swings of a short run with a strong discriminator.
    EMA_NETWORKS = ("G_AB", "G_BA")
    MONITOR = "cycle"
    BEST_METRIC = "cycle"
    PLATEAU_LOSS = {"G": "G", "D": "D"}

    def make_optimizers(self):
        self.adv_kind = losses.check_kind(self.cfg.loss["adversarial"])
        self.policy = parse_policy(self.cfg.loss["augment"])
        losses.check_colour_region(self.cfg.loss["colour_region"])
        for name in ("cycle_noise", "cycle_blur"):
            if self.weight(name) < 0:
                raise ValueError(f"config.toml [loss] {name} is a standard deviation and must be >= 0, "
                                 f"not {self.cfg.loss[name]}.")
        g = list(self.nets["G_AB"].parameters()) + list(self.nets["G_BA"].parameters())
        d = list(self.nets["D_A"].parameters()) + list(self.nets["D_B"].parameters())
        return {"G": self.adam("G", g), "D": self.adam("D", d)}

    def _judge(self, name: str, img: torch.Tensor) -> torch.Tensor:
        return self.nets[name](diff_augment(img, self.policy) if self.policy else img)

    def _way_back(self, fake: torch.Tensor) -> torch.Tensor:
        """What the cycle translates back: the translation, blurred and noised if the config asks for it."""
        blur, noise = self.weight("cycle_blur"), self.weight("cycle_noise")
        if blur:
            k = 2 * math.ceil(2 * blur) + 1
            fake = gaussian_blur(fake, [k, k], [blur, blur])
        return fake + noise * torch.randn_like(fake) if noise else fake

    def train_step(self, batch):
        G_AB, G_BA = self.nets["G_AB"], self.nets["G_BA"]
        a, b = batch["A"], batch["B"]
        kind = self.adv_kind
        w_idt = self.weight("identity")
        with self.autocast():
            fake_b, fake_a = G_AB(a), G_BA(b)
            l_cycle = (G_BA(self._way_back(fake_b)).float() - a).abs().mean() \
                + (G_AB(self._way_back(fake_a)).float() - b).abs().mean()
            l_idt = ((G_AB(b).float() - b).abs().mean() + (G_BA(a).float() - a).abs().mean()) if w_idt \
                else torch.zeros((), device=a.device)
            l_d = sum(losses.d_real(self._judge(d, real), kind) + losses.d_fake(self._judge(d, fake.detach()), kind)
                      for d, real, fake in (("D_A", a, fake_a), ("D_B", b, fake_b)))
        w_col = self.weight("colour")
        region = self.cfg.loss["colour_region"]
        l_col = (losses.colour_consistency(fake_b, a, region) + losses.colour_consistency(fake_a, b, region)) \
            if w_col else torch.zeros((), device=a.device)
        w_tex = self.weight("texture")
        l_tex = (losses.texture_consistency(fake_b, a) + losses.texture_consistency(fake_a, b)) if w_tex \
            else torch.zeros((), device=a.device)
        values = self.check_finite({"D": l_d, "cycle": l_cycle, "identity": l_idt, "colour": l_col,
                                    "texture": l_tex})
        self.update("D", l_d)

        self.set_requires_grad(["D_A", "D_B"], False)
        with self.autocast():
            l_adv = losses.g_adv(self._judge("D_B", fake_b), kind) + losses.g_adv(self._judge("D_A", fake_a), kind)
        self.set_requires_grad(["D_A", "D_B"], True)
        l_g = self.weight("adv") * l_adv + self.weight("cycle") * l_cycle + w_idt * l_idt + w_col * l_col \
            + w_tex * l_tex
        values.update(self.check_finite({"G_adv": l_adv, "G": l_g}))
        self.update("G", l_g)
        return values

    @torch.no_grad()
    def sample_rows(self, fixed):
        G_AB, G_BA = self.inference_net("G_AB"), self.inference_net("G_BA")
        a, b = fixed["A"], fixed["B"]
        fake_b, fake_a = G_AB(a), G_BA(b)
        return [("shoe", a), ("→ bag", fake_b), ("→ shoe again", G_BA(fake_b)),
                ("bag", b), ("→ shoe", fake_a), ("→ bag again", G_AB(fake_a))]

    @torch.no_grad()
    def evaluate(self, fixed):
        G_AB, G_BA = self.inference_net("G_AB"), self.inference_net("G_BA")
        a, b = fixed["A"], fixed["B"]
        return {"cycle": float((G_BA(G_AB(a)) - a).abs().mean() + (G_AB(G_BA(b)) - b).abs().mean())}

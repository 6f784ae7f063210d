package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.oppu.trainer.AdapterTraining;
import dev.oppu.trainer.TrainerDefaults;
import org.junit.jupiter.api.Test;

class AdapterTrainingOptionsTest {

  static final AdapterTraining.Config DEFAULTS = TrainerDefaults.user().training(); // 2 epochs, up to 6 for 24 steps

  @Test
  void noOptionKeepsTheCommandsRule() {
    assertEquals(DEFAULTS, new AdapterTrainingOptions().training(DEFAULTS));
  }

  @Test
  void epochsAloneAreExactlyThatMany() {
    AdapterTrainingOptions o = new AdapterTrainingOptions();
    o.epochs = 4;
    AdapterTraining.Config c = o.training(DEFAULTS);
    assertEquals(4, c.epochsFor(1));
    assertEquals(4, c.epochsFor(400));
  }

  @Test
  void epochsWithMinStepsAreTheFewest() {
    AdapterTrainingOptions o = new AdapterTrainingOptions();
    o.epochs = 3;
    o.minSteps = 32;
    o.maxEpochs = 10;
    AdapterTraining.Config c = o.training(DEFAULTS);
    assertEquals(8, c.epochsFor(16), "4 steps an epoch: 8 epochs reach 32 steps");
    assertEquals(3, c.epochsFor(400));
    o.maxEpochs = null;
    assertEquals(TrainerDefaults.USER_MAX_EPOCHS, o.training(DEFAULTS).epochsFor(1), "the command's cap");
  }
}

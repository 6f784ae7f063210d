package dev.oppu.serving;

import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.streams.Adapters;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * Refuses an adapter whose weights path is not a file of the adapter store, before it reaches the adapter store:
 * whoever can write the adapters topic must not make serving read any local file ({@code /dev/zero} would exhaust
 * memory). {@link Adapters#check} turns the refusal into a dead letter with the reason and the original bytes, keyed
 * by the adapter's user.
 */
final class WeightsInStore implements Adapters.WeightsCheck {
  private final Path store;

  WeightsInStore(Path store) {
    this.store = store;
  }

  @Override
  public String refusal(AdapterVersion a) {
    if (a.getWeightsPath() == null) {
      return null;
    }
    try {
      AdapterPayload.storedFile(store, a.getWeightsPath(), a.getWeightsSha256());
      return null;
    } catch (AdapterPayload.RefusedPathException e) {
      return e.getMessage();
    } catch (UncheckedIOException notYetThere) {
      // A path of the right form whose file this machine cannot see (yet): loading it later fails and the request is
      // answered without it; nothing outside the store is ever opened.
      return null;
    }
  }
}

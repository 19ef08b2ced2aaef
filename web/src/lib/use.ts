// What pages share: an API call's loading and error state, polling while a page is open, and
// the current locale for the formatters.
import { onBeforeUnmount, onMounted, ref, type Ref } from "vue";
import { useI18n } from "vue-i18n";
import { ApiError } from "./api";

export function useCall() {
  const busy = ref(false);
  const error: Ref<ApiError | null> = ref(null);

  /** Runs `action`, keeping its refusal for the page to show; answers undefined when refused.
   * The last refusal stays shown until this call settles: a page that polls does not flicker
   * (nor re-announce its alert) at every poll. */
  async function run<T>(action: () => Promise<T>): Promise<T | undefined> {
    busy.value = true;
    try {
      const result = await action();
      error.value = null;
      return result;
    } catch (caught) {
      if (!(caught instanceof ApiError)) throw caught;
      error.value = caught;
      return undefined;
    } finally {
      busy.value = false;
    }
  }

  return { busy, error, run };
}

/** Calls `tick` now and every `seconds` while the page is mounted and visible, until it answers
 * false (what it shows is gone). */
export function usePolling(tick: () => Promise<boolean | void>, seconds: number): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const loop = async () => {
    if (!document.hidden && (await tick()) === false) return;
    if (!stopped) timer = setTimeout(loop, seconds * 1000);
  };
  onMounted(() => void loop());
  onBeforeUnmount(() => {
    stopped = true;
    clearTimeout(timer);
  });
}

export function useLocale(): Ref<string> {
  return useI18n().locale as Ref<string>;
}

import type { DeviceLink } from './device-link.ts';
import { FirmwareLink } from './firmware-link.ts';
import type { DeviceLinkConfig } from './link-config.ts';
import { SimulatedLink } from './simulated-link.ts';
import { SunSpecLink } from './sunspec-link.ts';

/** The driver a device mapping names, on its default transport. */
export function createDeviceLink(config: DeviceLinkConfig): DeviceLink {
  switch (config.driver ?? 'firmware') {
    case 'firmware':
      return new FirmwareLink(config);
    case 'sunspec':
      return new SunSpecLink(config);
    case 'simulated':
      return new SimulatedLink(config);
    default:
      throw new TypeError(
        `device ${config.id}: unknown driver '${String(config.driver)}' (firmware, sunspec, simulated)`,
      );
  }
}

// Surge pricing: ride demand and driver supply per geohash cell in 5-minute windows, from two MSK topics.
import { z } from 'zod';
import { count, defineFeatureGroup, distinctCount, isoTimestamp } from 'skewless';

const BASE32 = '0123456789bcdefghjkmnpqrstuvwxyz';

/** The geohash of a point (precision 6: cells of about 1.2 km x 0.6 km). Pure, so it belongs in a transform. */
export function geohash(lat: number, lon: number, precision = 6): string {
  let [latLo, latHi, lonLo, lonHi] = [-90, 90, -180, 180];
  let hash = '';
  let bits = 0;
  let value = 0;
  let even = true;
  while (hash.length < precision) {
    if (even) {
      const mid = (lonLo + lonHi) / 2;
      value = value * 2 + (lon >= mid ? 1 : 0);
      if (lon >= mid) lonLo = mid;
      else lonHi = mid;
    } else {
      const mid = (latLo + latHi) / 2;
      value = value * 2 + (lat >= mid ? 1 : 0);
      if (lat >= mid) latLo = mid;
      else latHi = mid;
    }
    even = !even;
    if (++bits === 5) {
      hash += BASE32[value];
      bits = 0;
      value = 0;
    }
  }
  return hash;
}

const point = { lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) };

/** Ride requests (topic `ride-requests`): demand per cell. */
export const rideDemand = defineFeatureGroup({
  name: 'ride-demand',
  recordIdentifier: 'geohash',
  eventTime: 'event_time',
  source: z.object({ request_id: z.string(), rider_id: z.string(), ...point, requested_at: isoTimestamp() }),
  features: z.object({ geohash: z.string(), event_time: z.date(), rider_id: z.string() }),
  transform: (e) => ({ geohash: geohash(e.lat, e.lon), event_time: e.requested_at, rider_id: e.rider_id }),
  aggregations: {
    requests_5m: count({ window: '5m' }),
    riders_5m: distinctCount('rider_id', { window: '5m', limit: 500 }),
    requests_1h: count({ window: '1h' }),
  },
  allowedLateness: '1m',
});

/** Driver GPS pings (topic `driver-pings`): supply per cell, counting only drivers free to take a ride. */
export const driverSupply = defineFeatureGroup({
  name: 'driver-supply',
  recordIdentifier: 'geohash',
  eventTime: 'event_time',
  source: z.object({ driver_id: z.string(), ...point, status: z.enum(['available', 'on_trip', 'offline']), sent_at: isoTimestamp() }),
  features: z.object({ geohash: z.string(), event_time: z.date(), available_driver: z.string().optional() }),
  transform: (e) => ({
    geohash: geohash(e.lat, e.lon),
    event_time: e.sent_at,
    // Absent for busy drivers, so the distinct count below counts free drivers only.
    available_driver: e.status === 'available' ? e.driver_id : undefined,
  }),
  aggregations: { available_drivers_5m: distinctCount('available_driver', { window: '5m', limit: 500 }) },
  allowedLateness: '1m',
});

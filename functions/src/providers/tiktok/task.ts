/**
 * A backfill slice (`AccountQuery.bulk`) through an asynchronous report task, as TikTok's guide
 * runs one (https://business-api.tiktok.com/portal/docs?id=1738864800380930): the task is created
 * with the synchronous report's query (`POST /report/task/create/`), its status checked every
 * `asyncPollMs` (`GET /report/task/check/`) until it ends, and its output read once
 * (`GET /report/task/download/`): a CSV file of every campaign-day, not paged. Unlike the
 * synchronous report a task takes any range ("Asynchronous reports have no time range
 * limitations": https://business-api.tiktok.com/portal/docs?id=1740302766489602), so a slice is
 * one task.
 */
import { setTimeout as sleep } from "node:timers/promises";

import type { AdapterContext } from "../adapter";
import { ProviderError } from "../errors";
import { dayCount, queryTooLarge } from "../ranges";
import type { DateRange, MetricRow } from "../types";
import { toMetricRow } from "./map";
import { authHeaders, reportQuery } from "./report";
import {
  type AdvertiserInfo,
  reportFileSchema,
  taskCanceledSchema,
  taskCreatedSchema,
  type TaskStatus,
  taskStatusSchema,
} from "./schema";

type Context = AdapterContext<"tiktok">;

/** One task of one advertiser: what every request after its creation names. */
interface Task {
  advertiserId: string;
  taskId: string;
  label: string;
}

const taskParams = ({ advertiserId, taskId }: Task) => ({
  advertiser_id: advertiserId,
  task_id: taskId,
});

/**
 * The task's status once it has ended, or `undefined` when it is still `QUEUING` or
 * `PROCESSING` after `asyncMaxWaitMs`. Each check is a request of the budget.
 */
async function awaitTask(
  ctx: Context,
  accessToken: string,
  task: Task,
): Promise<TaskStatus | undefined> {
  const { asyncPollMs, asyncMaxWaitMs } = ctx.settings;
  const createdAt = ctx.now();
  for (let check = 1; ; check += 1) {
    await sleep(asyncPollMs);
    const { data } = await ctx.http.request({
      method: "GET",
      url: `${ctx.settings.baseUrl}/report/task/check/`,
      headers: authHeaders(accessToken),
      params: taskParams(task),
      schema: taskStatusSchema,
      label: `${task.label}: status check ${check}`,
    });
    if (data.status !== "QUEUING" && data.status !== "PROCESSING") {
      return data;
    }
    if (ctx.now() - createdAt >= asyncMaxWaitMs) {
      return undefined;
    }
  }
}

/**
 * Cancels a task given up on: TikTok asks for that, so the app's other queued tasks can proceed
 * ("Canceling an incorrect or long-running task can help save you time by allowing other queued
 * tasks to proceed": https://business-api.tiktok.com/portal/docs?id=1803615367145537). A task
 * that ended between the last check and the cancel cannot be canceled, and TikTok says so with an
 * error: nothing is lost, its range is asked again either way.
 */
async function cancelTask(ctx: Context, accessToken: string, task: Task): Promise<void> {
  try {
    await ctx.http.request({
      method: "POST",
      url: `${ctx.settings.baseUrl}/report/task/cancel/`,
      headers: authHeaders(accessToken),
      data: taskParams(task),
      schema: taskCanceledSchema,
      label: `${task.label}: cancel`,
    });
  } catch (error) {
    if (!(error instanceof ProviderError) || error.code !== "permanent") {
      throw error;
    }
  }
}

/**
 * Why a task gave no rows. TikTok states no cause for a failure, and a long task is exactly what
 * a smaller range shortens: a multi-day slice is a `QUERY_TOO_LARGE` error, which `fetchSlices`
 * answers with its halves (each its own task), so it never reaches the caller. A single day has
 * no smaller query; the failure may pass, so it is `transient`.
 */
function unfinishedTask(slice: DateRange, message: string): ProviderError {
  return dayCount(slice) > 1
    ? queryTooLarge("tiktok", message)
    : new ProviderError("tiktok", "transient", "report_task_failed", message);
}

/** Every campaign-day of one slice, from one asynchronous report task. */
export async function fetchReportTask(
  ctx: Context,
  accessToken: string,
  advertiser: AdvertiserInfo,
  slice: DateRange,
): Promise<MetricRow[]> {
  const advertiserId = advertiser.advertiser_id;
  const report = `report task ${advertiserId} ${slice.since}..${slice.until}`;
  const created = await ctx.http.request({
    method: "POST",
    url: `${ctx.settings.baseUrl}/report/task/create/`,
    headers: authHeaders(accessToken),
    // A POST takes the parameters as a JSON body. Field names in the title row, not display
    // names: TikTok "strongly recommend[s]" it, as translations change
    // (https://business-api.tiktok.com/portal/docs?id=1740302766489602).
    data: {
      ...reportQuery(advertiserId, slice),
      output_format: "CSV_STRING",
      enable_report_title_translation: false,
    },
    schema: taskCreatedSchema,
    label: `${report}: create`,
  });
  const task = {
    advertiserId,
    taskId: created.data.task_id,
    label: `${report} (${created.data.task_id})`,
  };
  const ended = await awaitTask(ctx, accessToken, task);
  if (!ended) {
    await cancelTask(ctx, accessToken, task);
    throw unfinishedTask(
      slice,
      `${task.label}: not done after ${ctx.settings.asyncMaxWaitMs} ms, canceled`,
    );
  }
  if (ended.status !== "SUCCESS") {
    throw unfinishedTask(
      slice,
      `${task.label}: ${ended.status}${ended.message ? ` (${ended.message})` : ""}`,
    );
  }
  const file = await ctx.http.request({
    method: "GET",
    url: `${ctx.settings.baseUrl}/report/task/download/`,
    headers: authHeaders(accessToken),
    params: taskParams(task),
    schema: reportFileSchema,
    text: true,
    label: `${task.label}: output`,
  });
  return file.map((row) => toMetricRow(row, advertiser));
}

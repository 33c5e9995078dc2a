import { jobTaskSchema } from "../../../src/jobs/dispatch";

describe("a task's payload", () => {
  it("is a job id Firestore accepts and the state's task name", () => {
    expect(jobTaskSchema.parse({ jobId: "abc123", taskId: "f00d" })).toEqual({
      jobId: "abc123",
      taskId: "f00d",
    });
  });

  it.each([
    ["a path, which would address another document", "syncJobs/x"],
    ["a reserved id", "__name__"],
    ["a relative id", ".."],
    ["an empty id", ""],
  ])("refuses %s", (_what, jobId) => {
    expect(jobTaskSchema.safeParse({ jobId, taskId: "f00d" }).success).toBe(false);
  });

  it("refuses fields it does not know", () => {
    expect(jobTaskSchema.safeParse({ jobId: "a", taskId: "b", userId: "u" }).success).toBe(false);
  });
});

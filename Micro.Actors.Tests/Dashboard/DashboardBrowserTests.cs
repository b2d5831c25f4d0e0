using Micro.Actors.Tests.Support;
using OpenQA.Selenium;
using Xunit.Abstractions;

namespace Micro.Actors.Tests.Dashboard;

/// <summary>
/// <c>micro web</c> as a real process in front of real greeter and subscriber processes, used in a real headless
/// Chromium as a person would, by keyboard where it can be: the services page, a service's page and its call
/// forms, the event tail and publish form, and a node killed meanwhile leaving the pages without a reload.
/// </summary>
[Collection(ProcessesLane.Name)]
public sealed class DashboardBrowserTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60), Soon = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task The_dashboard_lists_services_calls_endpoints_tails_events_and_drops_a_killed_node_without_a_reload()
    {
        var (seedPort, secondPort, httpPort) = (TestCluster.FreePort(), TestCluster.FreePort(), TestCluster.FreePort());
        var seed = $"127.0.0.1:{seedPort}";
        // A dead node is downed 5 s after it is lost rather than 20 s: the same on every node, as micro.down-after asks.
        var quick = new Dictionary<string, string> { ["Micro__DownAfter"] = "5s" };
        // Three processes join at once, beside another test: the web's wait for the cluster is 30 s, not 5.
        using var greeter = ProcessRunner.StartSample(quick, "greeter", "--port", $"{seedPort}");
        await greeter.WaitForLogAsync("is Up in cluster", Startup);
        using var second = ProcessRunner.StartSample(quick, "greeter", "--port", $"{secondPort}", "--seed", seed);
        using var subscriber = ProcessRunner.StartSample(quick, "subscriber", "--topic", "ticks", "--port", "0", "--seed", seed);
        using var web = ProcessRunner.Start("dotnet", [ProcessRunner.Built("Micro.Actors.Cli", "micro.dll"), "web", "--port", $"{httpPort}", "--seed", seed, "--timeout", "30"], quick);
        await Task.WhenAll(second.WaitForLogAsync("is Up in cluster", Startup), subscriber.WaitForLogAsync("is Up in cluster", Startup),
            web.WaitForLogAsync("micro web: listening on", Startup));

        using var browser = new Browser(output);
        var driver = browser.Driver;
        var ui = $"http://127.0.0.1:{httpPort}/ui/";
        try
        {
            // The services page: every running service, the greeter's two nodes, live (no reload is asked for).
            driver.Navigate().GoToUrl($"http://127.0.0.1:{httpPort}/"); // micro web's root leads to the dashboard
            Assert.Equal(ui, driver.Url);
            await browser.WaitAsync(d => d.FindElement(By.CssSelector("tr[data-service='greeter']")).Text.Contains("2 up"), Startup, "greeter with 2 nodes up");
            Assert.Contains("subscriber", browser.Text(By.Id("live")));
            Assert.Contains("2 ok", driver.FindElement(By.CssSelector("tr[data-service='greeter']")).Text);
            var servicesTab = driver.CurrentWindowHandle;

            // A second tab: from the services page to the greeter's, by keyboard.
            driver.SwitchTo().NewWindow(WindowType.Tab);
            driver.Navigate().GoToUrl(ui);
            driver.FindElement(By.LinkText("greeter")).SendKeys(Keys.Enter);
            await browser.WaitAsync(d => d.FindElements(By.CssSelector("tr[data-node]")).Count == 2, Soon, "the greeter's page with its two nodes");
            var endpoints = driver.FindElements(By.CssSelector("section.endpoint h3")).Select(h => h.Text).ToList();
            foreach (var (name, kind) in new[] { ("Greeter.Hello", "call"), ("Greeter.Audit", "one-way"), ("Greeter.Count", "server stream"), ("Greeter.Chat", "bidirectional stream") })
                Assert.Contains(endpoints, e => e.StartsWith(name, StringComparison.Ordinal) && e.EndsWith(kind, StringComparison.Ordinal));
            Assert.Contains("""{"name":"string"}""", driver.FindElement(By.Id("ep-Greeter-Hello")).Text);
            var serviceTab = driver.CurrentWindowHandle;
            driver.ExecuteScript("window.notReloaded = true;");

            // A node dies (SIGKILL) while the pages are open.
            second.Kill();
            await Eventually.TrueAsync(second.IsGone, TimeSpan.FromSeconds(10), "the second greeter process to be gone");

            // The call form, sent with Ctrl+Enter: the reply is shown (the retry passes the dead node by).
            var hello = driver.FindElement(By.Id("ep-Greeter-Hello-body"));
            hello.Clear();
            hello.SendKeys("""{"name":"Ann"}""");
            hello.SendKeys(Keys.Control + Keys.Enter);
            await browser.WaitAsync(_ => browser.Text(By.Id("ep-Greeter-Hello-reply")).Contains("Hello Ann"), Soon, "the reply of Greeter.Hello");
            Assert.StartsWith("200", browser.Text(By.Id("ep-Greeter-Hello-reply")));

            // A server stream, read as it comes; a bidirectional stream over a WebSocket.
            var count = driver.FindElement(By.Id("ep-Greeter-Count-body"));
            count.Clear();
            count.SendKeys("""{"to":3}""");
            driver.FindElement(By.CssSelector("#ep-Greeter-Count button")).Click();
            await browser.WaitAsync(_ => browser.Text(By.Id("ep-Greeter-Count-reply")).Contains("(end of stream)"), Soon, "the end of Greeter.Count");
            Assert.Contains("""{"n":3}""", browser.Text(By.Id("ep-Greeter-Count-reply")));
            var chat = driver.FindElement(By.Id("ep-Greeter-Chat-body"));
            chat.Clear();
            chat.SendKeys("""{"text":"hi"}""" + Keys.Enter + """{"text":"there"}""");
            driver.FindElement(By.CssSelector("#ep-Greeter-Chat button")).Click();
            await browser.WaitAsync(_ => browser.Text(By.Id("ep-Greeter-Chat-reply")).Contains("(end of stream)"), Soon, "the end of Greeter.Chat");
            Assert.Contains("you said: hi", browser.Text(By.Id("ep-Greeter-Chat-reply")));
            Assert.Contains("you said: there", browser.Text(By.Id("ep-Greeter-Chat-reply")));

            // A bad request is shown as the gateway's problem, not swallowed.
            hello.Clear();
            hello.SendKeys("{\"name\":");
            hello.SendKeys(Keys.Control + Keys.Enter);
            await browser.WaitAsync(_ => browser.Text(By.Id("ep-Greeter-Hello-reply")).StartsWith("400"), Soon, "the 400 of a malformed request");

            // A third tab: the events page tails a topic, and its form publishes to it.
            driver.SwitchTo().NewWindow(WindowType.Tab);
            driver.Navigate().GoToUrl(ui + "events?topic=ticks");
            await browser.WaitAsync(_ => browser.Text(By.Id("tail-state")).StartsWith("Tailing ticks"), Soon, "the tail of ticks to open");
            var body = driver.FindElement(By.Id("publish-body"));
            body.Clear();
            body.SendKeys("""{"number":7,"text":"from the dashboard"}""");
            driver.FindElement(By.CssSelector("#publish button")).Click();
            await browser.WaitAsync(_ => browser.Text(By.Id("publish-reply")).StartsWith("202"), Soon, "the publish to be accepted");
            await browser.WaitAsync(_ => browser.Text(By.Id("events")).Contains("from the dashboard"), Soon, "the tail to show the event");
            await subscriber.WaitForOutputAsync("event 7 from the dashboard", Soon);

            // Back on the greeter's page: the killed node has left it, and the page was never reloaded.
            driver.SwitchTo().Window(serviceTab);
            await browser.WaitAsync(d => d.FindElements(By.CssSelector($"tr[data-node='127.0.0.1:{secondPort}']")).Count == 0, Startup, "the killed node to leave the page");
            Assert.Single(driver.FindElements(By.CssSelector("tr[data-node]")));
            Assert.Equal(true, driver.ExecuteScript("return window.notReloaded === true;"));

            // The services page heard of it as it happened.
            driver.SwitchTo().Window(servicesTab);
            await browser.WaitAsync(_ => browser.Text(By.Id("changes")).Contains($"greeter 127.0.0.1:{secondPort} removed"), Soon, "the removal in the changes");
            await browser.WaitAsync(d => d.FindElement(By.CssSelector("tr[data-service='greeter']")).Text.Contains("1 up"), Soon, "greeter with 1 node");

            // Readable on a phone: nothing wider than the window (tables scroll inside themselves).
            driver.SwitchTo().Window(serviceTab);
            driver.Manage().Window.Size = new System.Drawing.Size(390, 844);
            Assert.Equal(true, driver.ExecuteScript("return document.documentElement.scrollWidth <= window.innerWidth;"));
        }
        catch
        {
            browser.Screenshots("dashboard");
            output.WriteLine(web.Describe());
            throw;
        }
    }
}

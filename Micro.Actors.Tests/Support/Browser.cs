using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using Xunit.Abstractions;

namespace Micro.Actors.Tests.Support;

/// <summary>
/// A real headless Chromium (Debian's chromium and chromium-driver, which .ci/run installs) driven by Selenium,
/// with no network beyond the loopback pages it is sent to.
/// </summary>
public sealed class Browser : IDisposable
{
    public const string Chromium = "/usr/bin/chromium", ChromeDriver = "/usr/bin/chromedriver";

    private readonly string _profile = Directory.CreateTempSubdirectory("micro-browser-").FullName;
    private readonly ITestOutputHelper _output;

    public ChromeDriver Driver { get; }

    public Browser(ITestOutputHelper output)
    {
        _output = output;
        if (!File.Exists(Chromium) || !File.Exists(ChromeDriver))
            throw new InvalidOperationException($"the browser tests need {Chromium} and {ChromeDriver}: apt-get install chromium chromium-driver (.ci/run does)");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriver)!, Path.GetFileName(ChromeDriver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", "--disable-extensions", "--user-data-dir=" + _profile);
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    /// <summary>Waits for <paramref name="condition"/> on the page (an element that is not there yet counts as false).</summary>
    public async Task WaitAsync(Func<IWebDriver, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try { if (condition(Driver)) return; }
            catch (Exception e) when (e is NoSuchElementException or StaleElementReferenceException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Waited {timeout.TotalSeconds:0.#} s for {what}; the page {Driver.Url} shows:\n{Text()}");
            await Task.Delay(100);
        }
    }

    public string Text(By? by = null)
    {
        try { return Driver.FindElement(by ?? By.TagName("body")).Text; }
        catch (WebDriverException) { return ""; }
    }

    /// <summary>A screenshot of every open tab into the test's output (a file each, named in the output), with the tab's text.</summary>
    public void Screenshots(string test)
    {
        var folder = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName;
        var tab = 0;
        foreach (var handle in Driver.WindowHandles)
        {
            try
            {
                Driver.SwitchTo().Window(handle);
                var file = Path.Combine(folder, $"{test}-{++tab}-{DateTime.UtcNow:HHmmss}.png");
                Driver.GetScreenshot().SaveAsFile(file);
                _output.WriteLine($"screenshot of {Driver.Url}: {file}\n{Text()}\n");
            }
            catch (WebDriverException e) { _output.WriteLine($"no screenshot of tab {++tab}: {e.Message}"); }
        }
    }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        try { Directory.Delete(_profile, recursive: true); }
        catch (IOException) { }
    }
}
